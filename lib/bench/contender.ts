/**
 * A contender is one implementation timed on the bench's cases: convkit itself, or a peer
 * (PyTorch in its tuned and its default environment, onnxruntime-node). The bench prepares every
 * contender for a case, times them in turns (timing.ts), then releases them.
 */
import type { BenchCase } from './options.js';
import type { Runner } from './timing.js';

export interface Contender {
  /** 'convkit', 'pytorch', 'onnxruntime-node': the `impl` field of its lines. */
  readonly impl: string;
  /** Which of several runs of one implementation: PyTorch's 'tuned' and 'default'. */
  readonly label?: string;
  /** The implementation's own version. */
  readonly version: string;
  /** What the implementation ran with that a reader must know (the peer's environment). */
  readonly setup?: Record<string, unknown>;
  /** Gets ready to time a case; a string says why this contender cannot run it (a line says so). */
  prepare(c: BenchCase): Promise<Runner | string>;
  /** Frees what the last prepared case held. */
  release(): Promise<void>;
  /** Ends the contender (a peer's process, a session). */
  close(): Promise<void>;
}

/** A peer that could not start at all: one line says why, and the run goes on without it. */
export interface AbsentPeer {
  impl: string;
  label?: string;
  reason: string;
}

/** The key that names a contender in ratios and tables: 'pytorch-tuned', 'onnxruntime-node'. */
export function contenderKey(c: { impl: string; label?: string }): string {
  return c.label ? `${c.impl}-${c.label}` : c.impl;
}
