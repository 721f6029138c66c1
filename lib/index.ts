/** convkit: convolutional networks for Node.js. */
export { Tensor, type DType, type Shape, type TensorOptions } from './tensor/tensor.js';
export { Device, device, type DeviceName } from './tensor/device.js';
export { tidy, keep } from './tensor/scope.js';
export { manualSeed } from './tensor/random.js';
export { memory, resetPeakMemory, emptyCache, type MemoryInfo } from './memory.js';
export { ConvkitError, ShapeError, ArgumentError, DisposedError, type ErrorCode } from './errors.js';
export { backends, type BackendInfo } from './backends.js';
export * as ops from './ops/index.js';
