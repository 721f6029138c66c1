/**
 * The only place that loads a .node file. Declares the typed interface of the binding; the rest
 * of lib/ imports it from here. Which file is loaded, in which order, and the message when none
 * loads: lib/native-loader.ts.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cudaAbsentReason } from './cuda-absent.js';
import { loadAddon, type AddonKind, type Attempt } from './native-loader.js';

/** An opaque, type-tagged native handle to a tensor's bytes. */
export type NativeHandle = { readonly __nativeHandle: unique symbol };
/** A stream id: N for `cpu:N`, 256 + N for `cuda:N` (lib/tensor/device.ts, native/napi/target.h). */
export type StreamId = number;
type H = NativeHandle;
type S = StreamId;

export interface MemoryStats {
  storages: number;
  bytes: number;
  hostPool: { liveBlocks: number; liveBytes: number; cachedBytes: number; peakBytes: number; osAllocs: number };
}

/** Geometry arrays are passed as plain number arrays; see each op's TS file for the order. */
export interface NativeBinding {
  build: { backend: string; cuda: boolean; simd?: string; cudaRuntime?: number };
  // storage
  alloc(stream: S, bytes: number): H;
  fromBytes(stream: S, data: ArrayBufferView): H;
  view(h: H, byteOffset: number, bytes: number): H;
  release(h: H): void;
  isLive(h: H): boolean;
  memoryStats(kind: number, index: number): MemoryStats;
  resetPeak(): void;
  emptyCache(): void;
  threads(): number;
  // waits
  synchronize(stream: S): Promise<void>;
  read(stream: S, h: H): Promise<ArrayBuffer>;
  synchronizeSync(stream: S): void;
  readSync(stream: S, h: H): ArrayBuffer;
  pending(stream: S): number;
  // elementwise
  fill(stream: S, y: H, n: number, value: number): void;
  fillI32(stream: S, y: H, n: number, value: number): void;
  copy(stream: S, x: H, y: H, n: number): void;
  axpby(stream: S, x: H, y: H, n: number, a: number, b: number): void;
  add(stream: S, a: H, b: H, y: H, n: number): void;
  mul(stream: S, a: H, b: H, y: H, n: number): void;
  randomNormal(stream: S, y: H, n: number, seed: number | bigint, offset: number | bigint, mean: number, std: number): void;
  randomUniform(stream: S, y: H, n: number, seed: number | bigint, offset: number | bigint, lo: number, hi: number): void;
  sum(stream: S, x: H, y: H, n: number): void;
  debugSleep(stream: S, ms: number): void;
  debugFail(stream: S, message: string): void;
  // Kernel families add their functions below (each file in lib/ops declares what it uses).
  [name: string]: unknown;
}

// The package folder (dist/..). CONVKIT_TEST_PACKAGE_ROOT is for tests only: it points the loader
// at another folder (an empty one shows the "nothing loads" message).
const root = process.env.CONVKIT_TEST_PACKAGE_ROOT || join(dirname(fileURLToPath(import.meta.url)), '..');
const loaded = loadAddon(root);

export const native: NativeBinding = loaded.binding as NativeBinding;

/** Which binary is loaded and every candidate the loader looked at (backends() reports them). */
export const addonInfo: { path: string; kind: AddonKind; attempts: readonly Attempt[] } = {
  path: loaded.path,
  kind: loaded.kind,
  attempts: loaded.attempts,
};

/** The candidates passed over, one line each ("path: outcome (why)"); kept for older callers. */
export const loadNotes: string[] = loaded.attempts
  .filter((a) => a.outcome === 'skipped' || a.outcome === 'failed')
  .map((a) => `${a.path}: ${a.outcome}${a.why ? ` (${a.why})` : ''}`);

/** Why the loaded binary has no CUDA backend (lib/cuda-absent.ts); empty for a CUDA build. */
export function cpuOnlyReason(): string {
  return native.build.cuda ? '' : cudaAbsentReason(loaded, root);
}
