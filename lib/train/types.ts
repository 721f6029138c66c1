/** What fit() and evaluate() read: any source of labelled batches, e.g. lib/data's loader. */
export interface Batch {
  /** Normalised images, NCHW, float32. */
  x: Float32Array;
  labels: Int32Array;
  /** [n, c, h, w] of this batch. */
  shape: readonly number[];
}

export interface BatchSource {
  readonly batchesPerEpoch: number;
  /** The batches of one epoch, in the epoch's (seeded) order, from batch `startBatch` on. */
  epoch(epoch: number, opts?: { startBatch?: number }): AsyncIterable<Batch>;
}

export interface BatchLogs {
  epoch: number;
  batch: number;
  /** This batch's loss and accuracy. */
  loss: number;
  accuracy: number;
  /** Running means over the epoch so far (weighted by batch size), what a progress bar shows. */
  meanLoss: number;
  meanAccuracy: number;
  /** Images in this batch, and seen in this epoch so far (this batch included). */
  size: number;
  seen: number;
  /** Mean images/s over the epoch so far. */
  imagesPerSec: number;
  /** Seconds left in this epoch at the current rate. */
  eta: number;
}

export interface EpochLogs {
  epoch: number;
  loss: number;
  accuracy: number;
  seconds: number;
  imagesPerSec: number;
  lr: number;
  valLoss?: number;
  valAccuracy?: number;
}

export interface Callbacks {
  onEpochBegin?(epoch: number): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: EpochLogs): void | Promise<void>;
  onBatchEnd?(batch: number, logs: BatchLogs): void | Promise<void>;
}
