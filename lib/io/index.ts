/** Files: safetensors reading/writing and training checkpoints. */
export {
  readSafetensors,
  readSafetensorsHeader,
  parseSafetensors,
  writeSafetensors,
  encodeSafetensors,
  MAX_HEADER_BYTES,
  type SafetensorsEntry,
  type SafetensorsFile,
  type SafetensorsHeader,
  type ReadTensor,
  type WritableDType,
} from './safetensors.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  loadWeights,
  optimizerPath,
  type Checkpoint,
  type CheckpointTensor,
  type LoadedCheckpoint,
  type LoadedWeights,
  type TrainingPosition,
} from './checkpoint.js';
export { readTorchSafetensors, torchMappingFor, TORCHVISION_ALEXNET, TORCH_LENET5, type KeyMapping } from './torch-mapping.js';
