/**
 * The binding's core: storage, waits, elementwise ops, the build's self-description and the
 * debugging hooks (native/napi/tensors.cc, waits.cc, ops_elementwise.cc, addon.cc).
 */
import type { BuildInfo, MemoryStats, NativeHandle as H, OpProfileRow, StreamId as S } from './types.js';

export interface CoreBinding {
  build: BuildInfo;
  // storage
  alloc(stream: S, bytes: number): H;
  fromBytes(stream: S, data: ArrayBufferView): H;
  /**
   * A copy of `h` (on `stream`'s device) on `dst`'s device, queued after the source's writes and
   * before the destination's later ops; returns at once (native/core/device.h, copyFrom).
   */
  copyTo(stream: S, h: H, dst: S): H;
  view(h: H, byteOffset: number, bytes: number): H;
  release(h: H): void;
  isLive(h: H): boolean;
  memoryStats(kind: number, index: number): MemoryStats;
  resetPeak(): void;
  emptyCache(): void;
  /** Addresses modulo 2 MiB of `count` host-pool blocks of `bytes`, taken at once and given back (a placement check). */
  hostBlockOffsets(count: number, bytes: number): number[];
  threads(): number;
  /** The index of the first NaN or infinity in a host array, or -1 (vectorised, on the calling thread). */
  firstNonFinite(data: Float32Array): number;
  /** Rows accumulated since the previous call; `on` switches profiling first. */
  profile(on?: boolean): OpProfileRow[];
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
  // debugging hooks (tests)
  debugSleep(stream: S, ms: number): void;
  debugFail(stream: S, message: string): void;
  /** The raw Philox4x32-10 block, synchronously (known-answer tests). */
  debugPhilox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number): number[];
}
