/**
 * Tensor: a shape, a dtype and a device around a native handle to reference-counted bytes.
 * Creating ops return at once; values come back by copy through data() (async) or dataSync().
 */
import { ArgumentError, ConvkitError, DisposedError, ShapeError, fmtShape } from '../errors.js';
import { native, type NativeHandle } from '../native.js';
import { Device, device as toDevice, type DeviceName } from './device.js';
import { nextStream } from './random.js';
import { track } from './scope.js';

export type DType = 'float32' | 'int32';
export type Shape = readonly number[];
export type TypedArrayFor<D extends DType> = D extends 'int32' ? Int32Array : Float32Array;

export interface TensorOptions {
  dtype?: DType;
  device?: DeviceName | Device;
}

let liveTensors = 0;
const livePerDevice = new Map<string, number>();

/** @internal Tensor objects not yet disposed, per device (JS side of memory()). */
export function liveTensorCounts(): Map<string, number> {
  return livePerDevice;
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function checkShape(op: string, shape: Shape): readonly number[] {
  if (!Array.isArray(shape)) throw new ArgumentError(`${op}: shape must be an array of integers, got ${String(shape)}`);
  for (const d of shape)
    if (!Number.isSafeInteger(d) || d < 0) throw new ArgumentError(`${op}: shape ${fmtShape(shape)} must hold non-negative integers`);
  return Object.freeze([...shape]);
}

const registry = new FinalizationRegistry<string>((dev) => {
  // The native finalizer frees the bytes; this only keeps the JS count honest.
  liveTensors--;
  livePerDevice.set(dev, (livePerDevice.get(dev) ?? 1) - 1);
});

export class Tensor {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly device: Device;
  #handle: NativeHandle | null;

  /** @internal Wraps a handle the caller owns. Use the static constructors or ops instead. */
  constructor(handle: NativeHandle, shape: Shape, dtype: DType, dev: Device) {
    this.#handle = handle;
    this.shape = shape;
    this.dtype = dtype;
    this.device = dev;
    liveTensors++;
    livePerDevice.set(dev.name, (livePerDevice.get(dev.name) ?? 0) + 1);
    registry.register(this, dev.name, this);
    track(this);
  }

  get size(): number {
    return sizeOf(this.shape);
  }
  get rank(): number {
    return this.shape.length;
  }
  get byteLength(): number {
    return this.size * 4;
  }
  get disposed(): boolean {
    return this.#handle === null;
  }

  /** @internal The native handle; throws ND_DISPOSED naming the op and argument if disposed. */
  handle(op = 'tensor', arg = 'tensor'): NativeHandle {
    if (this.#handle === null) throw new DisposedError(`${op}: '${arg}' (shape ${fmtShape(this.shape)}) was disposed`);
    return this.#handle;
  }

  /** @internal An uninitialised tensor; every element must be written by the op that makes it. */
  static empty(shape: Shape, dtype: DType = 'float32', dev: Device = toDevice('cpu')): Tensor {
    const s = checkShape('Tensor.empty', shape);
    return new Tensor(native.alloc(dev.stream, sizeOf(s) * 4), s, dtype, dev);
  }

  /**
   * A tensor holding a copy of `data` (an array or typed array of numbers; a typed array over a
   * SharedArrayBuffer is copied as it is at this instant). int32 values must be integers in
   * [-2^31, 2^31 - 1]: they are refused, never wrapped.
   */
  static fromArray(data: ArrayLike<number>, shape?: Shape, opts: TensorOptions = {}): Tensor {
    const op = 'Tensor.fromArray';
    if (data === null || (typeof data !== 'object' && typeof data !== 'function'))
      throw new ArgumentError(`${op}: 'data' must be an array or typed array of numbers, got ${data === null ? 'null' : typeof data}`);
    const length: unknown = (data as { length?: unknown }).length;
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0)
      throw new ArgumentError(`${op}: 'data' must be an array or typed array of numbers; its length is ${String(length)}`);
    if (opts.dtype !== undefined && opts.dtype !== 'float32' && opts.dtype !== 'int32')
      throw new ArgumentError(`${op}: dtype must be 'float32' or 'int32', got ${String(opts.dtype)}`);
    const dtype = opts.dtype ?? (data instanceof Int32Array ? 'int32' : 'float32');
    const s = checkShape(op, shape ?? [length]);
    if (sizeOf(s) !== length) throw new ShapeError(`${op}: ${length} values do not fill shape ${fmtShape(s)} (${sizeOf(s)} elements)`);
    const dev = toDevice(opts.device ?? 'cpu');
    let view: Float32Array | Int32Array;
    if (dtype === 'int32') view = data instanceof Int32Array ? data : copyInt32(op, data, length);
    else view = data instanceof Float32Array ? data : copyFloat32(op, data, length);
    return new Tensor(native.fromBytes(dev.stream, view), s, dtype, dev);
  }

  static full(shape: Shape, value: number, opts: TensorOptions = {}): Tensor {
    const dtype = opts.dtype ?? 'float32';
    const t = Tensor.empty(shape, dtype, toDevice(opts.device ?? 'cpu'));
    if (dtype === 'int32') native.fillI32(t.device.stream, t.handle(), t.size, value);
    else native.fill(t.device.stream, t.handle(), t.size, value);
    return t;
  }

  static zeros(shape: Shape, opts: TensorOptions = {}): Tensor {
    return Tensor.full(shape, 0, opts);
  }

  static ones(shape: Shape, opts: TensorOptions = {}): Tensor {
    return Tensor.full(shape, 1, opts);
  }

  /** Normal(mean, std) from a Philox stream: the same seed gives the same values on any device. */
  static randn(shape: Shape, opts: { seed?: number; mean?: number; std?: number; device?: DeviceName | Device } = {}): Tensor {
    const mean = finite('Tensor.randn', 'mean', opts.mean ?? 0);
    const std = finite('Tensor.randn', 'std', opts.std ?? 1);
    if (std < 0) throw new ArgumentError(`Tensor.randn: 'std' must be >= 0, got ${std}`);
    const t = Tensor.empty(shape, 'float32', toDevice(opts.device ?? 'cpu'));
    const { seed, offset } = nextStream(opts.seed);
    native.randomNormal(t.device.stream, t.handle(), t.size, seed, offset, mean, std);
    return t;
  }

  /** Uniform in [low, high) from a Philox stream. */
  static uniform(shape: Shape, opts: { seed?: number; low?: number; high?: number; device?: DeviceName | Device } = {}): Tensor {
    const low = finite('Tensor.uniform', 'low', opts.low ?? 0);
    const high = finite('Tensor.uniform', 'high', opts.high ?? 1);
    if (low > high) throw new ArgumentError(`Tensor.uniform: 'low' ${low} must be <= 'high' ${high}`);
    const t = Tensor.empty(shape, 'float32', toDevice(opts.device ?? 'cpu'));
    const { seed, offset } = nextStream(opts.seed);
    native.randomUniform(t.device.stream, t.handle(), t.size, seed, offset, low, high);
    return t;
  }

  /** A copy of the values, once every op queued before this call has run. */
  async data(): Promise<Float32Array | Int32Array> {
    const buf = await native.read(this.device.stream, this.handle('data'));
    return this.dtype === 'int32' ? new Int32Array(buf) : new Float32Array(buf);
  }

  /** Blocking data(): waits for the device on the JS thread. For tests and scripts. */
  dataSync(): Float32Array | Int32Array {
    const buf = native.readSync(this.device.stream, this.handle('dataSync'));
    return this.dtype === 'int32' ? new Int32Array(buf) : new Float32Array(buf);
  }

  /** Values as a plain (nested) array, for printing and tests. */
  async array(): Promise<number[]> {
    return Array.from(await this.data());
  }

  /** A tensor of another shape over the same bytes (no copy). Dispose it like any tensor. */
  reshape(shape: Shape): Tensor {
    const s = checkShape('reshape', shape);
    if (sizeOf(s) !== this.size) throw new ShapeError(`reshape: cannot view ${fmtShape(this.shape)} as ${fmtShape(s)}`);
    return new Tensor(native.view(this.handle('reshape'), 0, this.byteLength), s, this.dtype, this.device);
  }

  /**
   * This tensor on `device`: a new tensor sharing the bytes when it is already there (dispose it
   * like any tensor), else a copy. The copy is queued natively and returns at once: it sees every
   * write already queued on this tensor's device, and ops queued afterwards on `device` see the
   * copy (the devices order themselves with an event; the JS thread never waits). Disposing this
   * tensor right after is safe: the queued copy holds its own reference.
   */
  to(device: DeviceName | Device): Tensor {
    const dev = toDevice(device);
    const h = this.handle('to');
    if (dev === this.device) return new Tensor(native.view(h, 0, this.byteLength), this.shape, this.dtype, dev);
    return new Tensor(native.copyTo(this.device.stream, h, dev.stream), this.shape, this.dtype, dev);
  }

  /** Disposes the bytes now (idempotent). Ops already queued that read this tensor still see them. */
  dispose(): void {
    if (this.#handle === null) return;
    native.release(this.#handle);
    this.#handle = null;
    registry.unregister(this);
    liveTensors--;
    livePerDevice.set(this.device.name, (livePerDevice.get(this.device.name) ?? 1) - 1);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}, ${this.device.name}${this.disposed ? ', disposed' : ''})`;
  }
}

function finite(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`${op}: '${name}' must be a finite number, got ${String(v)}`);
  return v;
}

/** A typed array of `length` elements, or ND_OOM when JS cannot allocate it. */
function allocTyped<T>(op: string, make: () => T, length: number, dtype: DType): T {
  try {
    return make();
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new ConvkitError('ND_OOM', `${op}: cannot allocate ${length} ${dtype} values (${length * 4} bytes): ${e.message}`, { cause: e });
  }
}

function copyFloat32(op: string, data: ArrayLike<number>, length: number): Float32Array {
  const out = allocTyped(op, () => new Float32Array(length), length, 'float32');
  for (let i = 0; i < length; i++) {
    const v = data[i];
    if (typeof v !== 'number') throw new ArgumentError(`${op}: value ${String(v)} at index ${i} is not a number`);
    out[i] = v;
  }
  return out;
}

function copyInt32(op: string, data: ArrayLike<number>, length: number): Int32Array {
  const out = allocTyped(op, () => new Int32Array(length), length, 'int32');
  for (let i = 0; i < length; i++) {
    const v = data[i];
    // Int32Array would wrap 2^31 to -2^31 and 2^40 to 0: refuse instead.
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647)
      throw new ArgumentError(`${op}: int32 value ${String(v)} at index ${i} is not an integer in [-2^31, 2^31 - 1]`);
    out[i] = v;
  }
  return out;
}

/** @internal */
export function liveTensorTotal(): number {
  return liveTensors;
}
