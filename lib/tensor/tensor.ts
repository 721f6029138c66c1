/**
 * Tensor: a shape, a dtype and a device around a native handle to reference-counted bytes.
 * Creating ops return at once; values come back by copy through data() (async) or dataSync().
 */
import { ArgumentError, DisposedError, ShapeError, fmtShape } from '../errors.js';
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

  static fromArray(data: ArrayLike<number>, shape?: Shape, opts: TensorOptions = {}): Tensor {
    const dtype = opts.dtype ?? (data instanceof Int32Array ? 'int32' : 'float32');
    const s = checkShape('Tensor.fromArray', shape ?? [data.length]);
    if (sizeOf(s) !== data.length)
      throw new ShapeError(`Tensor.fromArray: ${data.length} values do not fill shape ${fmtShape(s)} (${sizeOf(s)} elements)`);
    const dev = toDevice(opts.device ?? 'cpu');
    let view: Float32Array | Int32Array;
    if (dtype === 'int32') {
      view = data instanceof Int32Array ? data : Int32Array.from(data);
      if (!(data instanceof Int32Array))
        for (let i = 0; i < data.length; i++)
          if (!Number.isInteger(data[i])) throw new ArgumentError(`Tensor.fromArray: int32 value ${data[i]} at index ${i} is not an integer`);
    } else {
      view = data instanceof Float32Array ? data : Float32Array.from(data);
    }
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
    const t = Tensor.empty(shape, 'float32', toDevice(opts.device ?? 'cpu'));
    const { seed, offset } = nextStream(opts.seed);
    native.randomNormal(t.device.stream, t.handle(), t.size, seed, offset, opts.mean ?? 0, opts.std ?? 1);
    return t;
  }

  /** Uniform in [low, high) from a Philox stream. */
  static uniform(shape: Shape, opts: { seed?: number; low?: number; high?: number; device?: DeviceName | Device } = {}): Tensor {
    const t = Tensor.empty(shape, 'float32', toDevice(opts.device ?? 'cpu'));
    const { seed, offset } = nextStream(opts.seed);
    native.randomUniform(t.device.stream, t.handle(), t.size, seed, offset, opts.low ?? 0, opts.high ?? 1);
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
   * like any tensor), else a copy. Crossing devices waits on the JS thread until the source device
   * has written the values (as dataSync() does): it is for setup, such as moving a model once. In
   * a training loop, create each batch on its device instead: Tensor.fromArray(data, shape, { device }).
   */
  to(device: DeviceName | Device): Tensor {
    const dev = toDevice(device);
    const h = this.handle('to');
    if (dev === this.device) return new Tensor(native.view(h, 0, this.byteLength), this.shape, this.dtype, dev);
    const bytes = native.readSync(this.device.stream, h);
    const values = this.dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes);
    return new Tensor(native.fromBytes(dev.stream, values), this.shape, this.dtype, dev);
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

/** @internal */
export function liveTensorTotal(): number {
  return liveTensors;
}
