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
  optimizerPath,
  type Checkpoint,
  type CheckpointTensor,
  type LoadedCheckpoint,
  type TrainingPosition,
} from './checkpoint.js';
