export { Model, type StepResult, type NamedArray } from './model.js';
export {
  CrossEntropyLoss,
  RbfLoss,
  criterionFor,
  CRITERION_KINDS,
  type Criterion,
  type CriterionKind,
  type CriterionForward,
} from './criteria.js';
export { lenet5, lenet5Spec, c3Mask, C3_TABLE, type LeNet5Options } from './lenet5.js';
export { alexnet, alexnetSpec, type AlexNetOptions } from './alexnet.js';
export {
  specParameterShapes,
  buildLayers,
  describeLayer,
  MAX_WIDTH,
  MAX_GEOMETRY,
  MAX_ELEMENTS,
  type LayerSpec,
  type LayerKind,
} from './layer-registry.js';
export { buildModel, sequentialModel, describeModel, checkSequential, type ModelSpec, type SequentialModelOptions } from './model-spec.js';
export { specFromConfig } from './from-config.js';
export { toOnnx, exportOnnx, ONNX_OPSET, type OnnxExportOptions } from './onnx-export.js';
export { loadTorchWeights } from './torch-weights.js';
