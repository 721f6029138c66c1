/** convkit: convolutional networks for Node.js. */
export { Tensor, type DType, type Shape, type TensorOptions } from './tensor/tensor.js';
export { Device, device, type DeviceName } from './tensor/device.js';
export { tidy, keep } from './tensor/scope.js';
export { manualSeed } from './tensor/random.js';
export { memory, resetPeakMemory, emptyCache, type MemoryInfo } from './memory.js';
export { ConvkitError, ShapeError, ArgumentError, DisposedError, type ErrorCode } from './errors.js';
export { backends, type BackendInfo } from './backends.js';
export { isa, setIsa, cpuIsa, supportedIsas, isaFamilies, ISA_LEVELS, type IsaLevel, type IsaFamilies } from './isa.js';
export * as ops from './ops/index.js';
export * from './layers/index.js';
export {
  Model,
  lenet5,
  c3Mask,
  C3_TABLE,
  type LeNet5Options,
  CrossEntropyLoss,
  RbfLoss,
  type Criterion,
  type CriterionKind,
  type StepResult,
  type NamedArray,
} from './models/index.js';
export { SGD, type SGDOptions } from './optim/sgd.js';
export {
  DataParallel,
  ReplicatedSGD,
  planBuckets,
  shardBatch,
  type DataParallelOptions,
  type ReplicaFactory,
  type ReplicatedStep,
  type GradientBucket,
  type Shard,
} from './parallel/index.js';
export {
  fit,
  evaluate,
  predict,
  constantLr,
  stepLr,
  piecewiseLr,
  type FitOptions,
  type History,
  type Schedule,
  type BatchSource,
  type BatchLogs,
  type EpochLogs,
  type Callbacks,
} from './train/index.js';
export { saveTrainingCheckpoint, restoreModel } from './train/checkpointing.js';
export {
  readIdx,
  parseIdx,
  loadMnist,
  InMemoryDataset,
  DataLoader,
  epochOrder,
  pixelTable,
  CLASSIC_BACKGROUND,
  CLASSIC_FOREGROUND,
  type IdxArray,
  type MnistData,
  type MnistSplit,
  type DatasetOptions,
  type DataLoaderOptions,
  type Batch,
  type Normalize,
} from './data/index.js';
export {
  readSafetensors,
  parseSafetensors,
  writeSafetensors,
  encodeSafetensors,
  saveCheckpoint,
  loadCheckpoint,
  optimizerPath,
  type SafetensorsEntry,
  type SafetensorsFile,
  type ReadTensor,
  type WritableDType,
  type Checkpoint,
  type CheckpointTensor,
  type LoadedCheckpoint,
  type TrainingPosition,
} from './io/index.js';
export { alexnet, type AlexNetOptions } from './models/index.js';
export {
  imageFolderLoader,
  ImageFolderLoader,
  loadImageForPredict,
  computeMeanImage,
  decodeImage,
  IMAGENET_MEAN,
  IMAGENET_PCA,
  type ImageLoaderOptions,
  type ImageBatch,
  type PredictImageOptions,
  type Pca,
} from './data/images/index.js';
export { Predictor, TrainPlan, type PredictorOptions, type PredictorPrecision, type PredictorRunOptions } from './models/model.js';
export {
  InferenceSession,
  SessionPool,
  imageToSample,
  imageToPixels,
  writePixels,
  pixelLength,
  deprioritizeOtherThreads,
  prioritizeThisThread,
  reniceThreads,
  listThreads,
  BusyError,
  TimeoutError,
  AbortedError,
  ClosedError,
  type SessionOptions,
  type RunOptions,
  type SampleInput,
  type PoolOptions,
  type SessionStats,
  type LatencySummary,
  type Calibration,
  type PriorityResult,
} from './serve/index.js';
// Weights that travel, PyTorch weights in, ONNX out (issue 13).
export {
  sequentialModel,
  describeModel,
  loadTorchWeights,
  toOnnx,
  exportOnnx,
  ONNX_OPSET,
  lenet5Spec,
  alexnetSpec,
  type LayerSpec,
  type LayerKind,
  type ModelSpec,
  type OnnxExportOptions,
  type SequentialModelOptions,
} from './models/index.js';
export {
  loadWeights,
  readTorchSafetensors,
  torchMappingFor,
  TORCHVISION_ALEXNET,
  TORCH_LENET5,
  type KeyMapping,
  type LoadedWeights,
} from './io/index.js';
export { type RestoredModel } from './train/checkpointing.js';
// Process groups (issue 12): the environment, the TCP store, the Gloo engine.
export {
  initProcessGroup,
  ProcessGroup,
  shapeSignature,
  type InitProcessGroupOptions,
  type AllReduceOptions,
  type Backend,
} from './parallel/process-group.js';
export { groupFromEnv, type GroupEnv } from './parallel/env.js';
export { StoreServer, type StoreServerOptions } from './parallel/store-server.js';
export { StoreClient, type StoreClientOptions } from './parallel/store-client.js';
export { shardOrder, shardLength, type ShardOptions, type ShardTail } from './data/shard.js';
