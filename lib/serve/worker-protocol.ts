/**
 * The messages between a SessionPool and its workers (threads or processes), and the one
 * interface both kinds of worker are driven through. Plain data only: structured clone for
 * threads, and child_process's 'advanced' serialization (also structured clone) for processes.
 */
import type { ErrorData } from './errors.js';
import type { SessionOptions } from './inference-session.js';
import type { SessionStats } from './stats.js';

export interface WorkerInit {
  weights: string;
  device: string;
  options: Omit<SessionOptions, 'device'>;
}

export type ToWorker =
  | { type: 'init'; init: WorkerInit }
  | { type: 'run'; id: number; x: Float32Array }
  | { type: 'cancel'; id: number }
  | { type: 'stats'; id: number }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; inputShape: number[]; batchSizes: number[] }
  | { type: 'done'; id: number; y: Float32Array }
  | { type: 'fail'; id: number; error: ErrorData }
  | { type: 'stats'; id: number; stats: SessionStats }
  | { type: 'init-failed'; error: ErrorData }
  | { type: 'closed' };

/** A worker thread or a child process, seen the same way. */
export interface Channel {
  send(m: ToWorker, transfer?: ArrayBuffer[]): void;
  onMessage(fn: (m: FromWorker) => void): void;
  /** Called once when the worker is gone, whatever the reason. */
  onExit(fn: (why: string) => void): void;
  /** Ends the worker now, without draining. */
  kill(): Promise<void>;
}
