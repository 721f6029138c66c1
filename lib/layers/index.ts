export {
  Layer,
  setGrad,
  countParams,
  layerTree,
  stochasticLayers,
  type Parameter,
  type LayerGeometry,
  type FusableActivation,
  type StochasticState,
  type LayerEntry,
} from './layer.js';
export { initTensor, paramSeed, type Init } from './init.js';
export { Conv2d, type Conv2dOptions } from './conv2d.js';
export { Linear, type LinearOptions } from './linear.js';
export { MaxPool2d, AvgPool2d, poolOutputSize, type Pool2dOptions } from './pooling.js';
export { Subsampling, type SubsamplingOptions } from './subsampling.js';
export { LocalResponseNorm, type LrnOptions } from './lrn.js';
export { ReLU, Tanh, ScaledTanh, Sigmoid } from './activations.js';
export { Dropout, type DropoutOptions } from './dropout.js';
export { Flatten } from './flatten.js';
export { RBFOutput } from './rbf-output.js';
export { lenetDigitCodes } from './rbf-codes.js';
export { Sequential } from './sequential.js';
export { summarize, type Summary, type SummaryRow } from './summary.js';
