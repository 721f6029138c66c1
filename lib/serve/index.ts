/** Serving: InferenceSession (dynamic batching, bounded queue, timeouts, stats) and SessionPool. */
export { InferenceSession, type SessionOptions, type RunOptions, type SampleInput } from './inference-session.js';
export { SessionPool, type PoolOptions } from './session-pool.js';
export { BusyError, TimeoutError, AbortedError, ClosedError } from './errors.js';
export { powersOfTwo, type Calibration } from './batch-runner.js';
export type { SessionStats, LatencySummary } from './stats.js';
export { imageToSample } from './image-input.js';
export { imageToPixels, writePixels, pixelLength } from './image-input.js';
export { deprioritizeOtherThreads, prioritizeThisThread, reniceThreads, listThreads, type PriorityResult } from './thread-priority.js';
