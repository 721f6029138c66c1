/**
 * The Gloo engine's bindings (native/napi/ops_gloo.cc): loading the shim (convkit_gloo.so) at run
 * time, joining a group off the JS thread, and collectives queued on a CPU stream. lib/parallel
 * is their only caller.
 */
import type { NativeHandle as H, StreamId as S } from './types.js';

/** An opaque, type-tagged handle to one process group's Gloo context. */
export type GlooGroupHandle = { readonly __glooGroup: unique symbol };

export interface GlooLoadResult {
  loaded: boolean;
  /** The file of the first load attempt (later calls report that one, whatever their path). */
  path: string;
  version?: string;
  /** Why the shim did not load: the path and dlerror, or a missing symbol, or an interface mismatch. */
  reason?: string;
}

export interface GlooBinding {
  glooLoad(path: string): GlooLoadResult;
  /**
   * Connects the full mesh through the TCP store at storeHost:storePort within timeoutMs
   * (ND_TIMEOUT, ND_CLOSED); opTimeoutMs bounds every collective afterwards.
   */
  glooCreate(
    rank: number,
    size: number,
    storeHost: string,
    storePort: number,
    prefix: string,
    timeoutMs: number,
    hostname: string,
    opTimeoutMs: number,
  ): Promise<GlooGroupHandle>;
  /** In place over x[offset, offset + n): the sum over ranks, or the mean. */
  glooAllReduce(stream: S, group: GlooGroupHandle, x: H, offset: number, n: number, mean: boolean): void;
  glooBroadcast(stream: S, group: GlooGroupHandle, x: H, offset: number, n: number, root: number): void;
  glooBarrier(stream: S, group: GlooGroupHandle): void;
  glooDestroy(group: GlooGroupHandle): void;
}
