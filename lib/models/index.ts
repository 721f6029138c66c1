export { Model, type CriterionKind, type StepResult, type NamedArray } from './model.js';
export { lenet5, c3Mask, C3_TABLE, type LeNet5Options } from './lenet5.js';
export { alexnet, type AlexNetOptions } from './alexnet.js';
