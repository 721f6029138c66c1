/**
 * The only place that loads a .node file. Declares the typed interface of the binding; the rest
 * of lib/ imports it from here. Loading tries, in order: CONVKIT_ADDON (a path), the CUDA build
 * (unless CONVKIT_NO_CUDA is set or a native source is newer than it), then the CPU build
 * (build/Release or prebuilds/ through node-gyp-build), and reports every failure in one message.
 */
import { createRequire } from 'node:module';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
  /** Bytes tensor handles have reported to V8 as external memory (all devices, this process). */
  reportedToV8: number;
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

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const require = createRequire(import.meta.url);

/** Why the CUDA build was passed over (stale, disabled, failed to load); read by backends(). */
export const loadNotes: string[] = [];

/** Newest modification time (ms) of the native sources next to this package, 0 if none. */
function newestNativeSource(): number {
  let newest = 0;
  for (const dir of ['core', 'cpu', 'napi', 'cuda']) {
    let names: string[];
    try {
      names = readdirSync(join(root, 'native', dir));
    } catch {
      continue;
    }
    for (const name of names) {
      if (!/\.(cc|h|cu)$/.test(name)) continue;
      try {
        newest = Math.max(newest, statSync(join(root, 'native', dir, name)).mtimeMs);
      } catch {
        // removed while we looked: it cannot be newer than the build
      }
    }
  }
  return newest;
}

/**
 * The CUDA build is dated from the start of its build (scripts/build-cuda.mjs): a native source
 * edited since then means it was compiled from older code than the CPU build may hold, so it is
 * skipped with a note instead of silently shadowing the fresh CPU build.
 */
function cudaBuildCandidate(): string | null {
  const cudaBuild = join(root, 'build-cuda', 'Release', 'convkit_cuda.node');
  if (!existsSync(cudaBuild)) return null;
  if (process.env.CONVKIT_NO_CUDA) {
    loadNotes.push(`${cudaBuild} skipped: CONVKIT_NO_CUDA is set`);
    return null;
  }
  const built = statSync(cudaBuild).mtimeMs;
  if (newestNativeSource() > built) {
    loadNotes.push(`${cudaBuild} skipped: native sources changed after it was built (rebuild: node scripts/build-cuda.mjs)`);
    return null;
  }
  return cudaBuild;
}

function load(): NativeBinding {
  const tried: string[] = [];
  const candidates: Array<[string, () => unknown]> = [];
  const explicit = process.env.CONVKIT_ADDON;
  if (explicit) candidates.push([`CONVKIT_ADDON=${explicit}`, () => require(explicit)]);
  const cudaBuild = cudaBuildCandidate();
  if (cudaBuild) candidates.push([cudaBuild, () => require(cudaBuild)]);
  candidates.push([`node-gyp-build(${root})`, () => (require('node-gyp-build') as (dir: string) => unknown)(root)]);
  for (const [where, fn] of candidates) {
    try {
      return fn() as NativeBinding;
    } catch (err) {
      const line = `  ${where}: ${(err as Error).message.split('\n')[0]}`;
      tried.push(line);
      loadNotes.push(line.trim());
    }
  }
  const e = new Error(
    `convkit: could not load the native addon. Tried:\n${tried.join('\n')}\n` +
      'Run `npm ci` (or `npm run build:native`) to build it.',
  );
  (e as Error & { code: string }).code = 'ND_INTERNAL';
  throw e;
}

export const native: NativeBinding = load();
