export { fit, type FitOptions, type History } from './fit.js';
export { evaluate, predict } from './evaluate.js';
export { constantLr, stepLr, piecewiseLr, type Schedule } from './schedule.js';
export type { Batch, BatchSource, BatchLogs, EpochLogs, Callbacks } from './types.js';
