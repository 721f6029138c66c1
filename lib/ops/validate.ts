/**
 * Argument checks shared by every op. They run on the JS thread before anything crosses into
 * native code, and their messages name the op, the argument and the shapes involved.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { Device } from '../tensor/device.js';
import { Tensor, type DType, type Shape } from '../tensor/tensor.js';

export function checkTensor(op: string, name: string, t: unknown, opts: { dtype?: DType; rank?: number } = {}): Tensor {
  if (!(t instanceof Tensor)) throw new ArgumentError(`${op}: '${name}' must be a Tensor, got ${describe(t)}`);
  t.handle(op, name); // throws ND_DISPOSED with the op's name
  const dtype = opts.dtype ?? 'float32';
  if (t.dtype !== dtype) throw new ArgumentError(`${op}: '${name}' must be ${dtype}, got ${t.dtype}`);
  if (opts.rank !== undefined && t.rank !== opts.rank)
    throw new ShapeError(`${op}: '${name}' must have rank ${opts.rank}, got shape ${fmtShape(t.shape)}`);
  return t;
}

export function sameDevice(op: string, tensors: Record<string, Tensor | null | undefined>): void {
  let first: [string, Tensor] | undefined;
  for (const [name, t] of Object.entries(tensors)) {
    if (!t) continue;
    if (!first) first = [name, t];
    else if (t.device !== first[1].device)
      throw new ArgumentError(`${op}: '${name}' is on ${t.device.name} but '${first[0]}' is on ${first[1].device.name}`);
  }
}

export function sameShape(op: string, aName: string, a: Tensor, bName: string, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i]))
    throw new ShapeError(`${op}: '${aName}' ${fmtShape(a.shape)} and '${bName}' ${fmtShape(b.shape)} must have the same shape`);
}

export function checkInt(op: string, name: string, v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
    throw new ArgumentError(
      `${op}: '${name}' must be an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? 'inf' : max}], got ${describe(v)}`,
    );
  return v;
}

export function checkNumber(op: string, name: string, v: unknown, opts: { min?: number; max?: number; finite?: boolean } = {}): number {
  if (typeof v !== 'number' || Number.isNaN(v) || ((opts.finite ?? true) && !Number.isFinite(v)))
    throw new ArgumentError(`${op}: '${name}' must be a finite number, got ${describe(v)}`);
  if (opts.min !== undefined && v < opts.min) throw new ArgumentError(`${op}: '${name}' must be >= ${opts.min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) throw new ArgumentError(`${op}: '${name}' must be <= ${opts.max}, got ${v}`);
  return v;
}

/**
 * The largest kernel size, stride, padding, dilation, spatial extent or dilated kernel span any
 * op accepts (2^24). Kernels index within an image with 32-bit arithmetic in places (SIMD
 * gathers, int32 argmax) and everything else in 64-bit; with every geometry value at most 2^24
 * and every per-image element count below 2^31 (checkPerImage), no index product can overflow
 * either. Real networks use values below 2^12; 2^24 pixels is a 16-megapixel side.
 */
export const GEOMETRY_MAX = 2 ** 24;
/** The most elements one image's slice of an op's tensor may hold (int32 index range). */
export const PER_IMAGE_MAX = 2 ** 31 - 1;

/** A size given as n or [h, w] becomes [h, w], each in [min, max] (max defaults to GEOMETRY_MAX). */
export function pair(
  op: string,
  name: string,
  v: number | readonly [number, number] | undefined,
  fallback: number,
  min = 0,
  max = GEOMETRY_MAX,
): [number, number] {
  if (v === undefined) return [fallback, fallback];
  if (typeof v === 'number') return [checkInt(op, name, v, min, max), checkInt(op, name, v, min, max)];
  if (Array.isArray(v) && v.length === 2) return [checkInt(op, `${name}[0]`, v[0], min, max), checkInt(op, `${name}[1]`, v[1], min, max)];
  throw new ArgumentError(`${op}: '${name}' must be an integer or [h, w], got ${describe(v)}`);
}

/** A spatial extent or kernel span (an H, a W, dilation*(k-1)+1) must be at most GEOMETRY_MAX. */
export function checkExtent(op: string, what: string, v: number): void {
  if (!(v <= GEOMETRY_MAX))
    throw new ShapeError(`${op}: ${what} is ${v}, above the geometry bound ${GEOMETRY_MAX} (2^24) that keeps index arithmetic exact`);
}

/** One image's share of a tensor (`dims` multiplied) must stay below 2^31 elements. */
export function checkPerImage(op: string, what: string, dims: readonly number[]): void {
  const n = dims.reduce((a, b) => a * b, 1);
  if (!(n <= PER_IMAGE_MAX))
    throw new ShapeError(
      `${op}: ${what} [${dims.join(' x ')}] = ${n} elements per image, above the bound 2^31 - 1 that keeps index arithmetic exact`,
    );
}

/** An optional boolean option: `fallback` when left out, else it must be a boolean. */
export function checkFlag(op: string, name: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new ArgumentError(`${op}: '${name}' must be a boolean, got ${describe(v)}`);
  return v;
}

export function describe(v: unknown): string {
  if (v instanceof Tensor) return v.toString();
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(describe).join(', ')}]`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/**
 * Checks a backward op's `into` tensor before anything is allocated: float32, exactly `shape`,
 * on `device` (the op overwrites it, as a layer's gradient view inside a model's flat buffer).
 */
export function checkInto(op: string, name: string, into: Tensor | null | undefined, shape: Shape, device: Device): void {
  if (into === undefined || into === null) return;
  checkTensor(op, `into.${name}`, into);
  if (into.rank !== shape.length || into.shape.some((d, i) => d !== shape[i]))
    throw new ShapeError(`${op}: 'into.${name}' ${fmtShape(into.shape)} must be ${fmtShape(shape)}`);
  if (into.device !== device) throw new ArgumentError(`${op}: 'into.${name}' is on ${into.device.name} but the op runs on ${device.name}`);
}

/** A backward op's output: `into` when given (checked with checkInto first), else a new tensor the op fills. */
export function outputInto(into: Tensor | null | undefined, shape: Shape, device: Device): Tensor {
  return into ?? Tensor.empty(shape, 'float32', device);
}
