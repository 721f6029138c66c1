/**
 * The whole binding, the single typed description of the addon (lib/native.ts loads it and
 * re-exports these types). BINDING_NAMES lists every name at run time, marked with the builds
 * that have it; the compiler keeps it equal to the interface (a name missing from either side
 * fails `satisfies`), and test/core/binding-names.test.ts checks it against the loaded addon.
 */
import type { CommBinding } from './comm.js';
import type { CoreBinding } from './core.js';
import type { CudaBinding } from './cuda.js';
import type { GlooBinding } from './gloo.js';
import type { KernelBinding } from './kernels.js';

export interface NativeBinding extends CoreBinding, KernelBinding, CommBinding, CudaBinding, GlooBinding {}

/** 'both': the CPU and the CUDA build; 'cuda': the CUDA build only. */
export type BindingBuilds = 'both' | 'cuda';

export const BINDING_NAMES = {
  // core
  build: 'both',
  alloc: 'both',
  fromBytes: 'both',
  copyTo: 'both',
  view: 'both',
  release: 'both',
  isLive: 'both',
  memoryStats: 'both',
  resetPeak: 'both',
  emptyCache: 'both',
  threads: 'both',
  profile: 'both',
  synchronize: 'both',
  read: 'both',
  synchronizeSync: 'both',
  readSync: 'both',
  pending: 'both',
  fill: 'both',
  fillI32: 'both',
  copy: 'both',
  axpby: 'both',
  add: 'both',
  mul: 'both',
  randomNormal: 'both',
  randomUniform: 'both',
  sum: 'both',
  debugSleep: 'both',
  debugFail: 'both',
  debugPhilox4x32: 'both',
  // kernels
  gemm: 'both',
  batchedGemm: 'both',
  gemmKernelName: 'both',
  im2col: 'both',
  col2im: 'both',
  conv2dForward: 'both',
  conv2dBackward: 'both',
  convScratchBytes: 'both',
  convChunkImages: 'both',
  convFastPath: 'both',
  convPackedColumns: 'both',
  maxPool2d: 'both',
  maxPool2dBackward: 'both',
  avgPool2d: 'both',
  avgPool2dBackward: 'both',
  sumPool2d: 'both',
  sumPool2dBackward: 'both',
  lrn: 'both',
  lrnBackward: 'both',
  relu: 'both',
  tanh: 'both',
  sigmoid: 'both',
  scaledTanh: 'both',
  reluBackward: 'both',
  tanhBackward: 'both',
  sigmoidBackward: 'both',
  scaledTanhBackward: 'both',
  dropout: 'both',
  dropoutBackward: 'both',
  linear: 'both',
  linearBackwardData: 'both',
  linearBackwardWeight: 'both',
  linearBackwardBias: 'both',
  softmax: 'both',
  softmaxBackward: 'both',
  softmaxCrossEntropy: 'both',
  softmaxCrossEntropyBackward: 'both',
  rbfForward: 'both',
  rbfBackward: 'both',
  rbfCriterion: 'both',
  sgdStepPytorch: 'both',
  sgdStepPaper: 'both',
  sgdFlat: 'both',
  channelAffine: 'both',
  channelAffineBackward: 'both',
  captureBegin: 'both',
  captureEnd: 'both',
  capturedOps: 'both',
  captureRelease: 'both',
  captureReplay: 'both',
  isa: 'both',
  cpuIsa: 'both',
  isaFamilies: 'both',
  // collectives, thread budget, trace
  allReduce: 'both',
  broadcast: 'both',
  setStreamThreads: 'both',
  trace: 'both',
  debugThreadUse: 'both',
  collectiveEngines: 'both',
  ncclLoad: 'both',
  // the Gloo engine (native/napi/ops_gloo.cc)
  glooLoad: 'both',
  glooCreate: 'both',
  glooAllReduce: 'both',
  glooBroadcast: 'both',
  glooBarrier: 'both',
  glooDestroy: 'both',
  // CUDA build only
  cudaStatus: 'cuda',
  cudaLoadCublas: 'cuda',
  cudaTf32: 'cuda',
} as const satisfies Record<keyof NativeBinding, BindingBuilds>;
