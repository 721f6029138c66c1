/**
 * Devices are in-order streams (DESIGN.md). `cpu:N` is native executor thread N; ops on it run
 * in the order they were called, off the JS thread. `cpu` is `cpu:0`. `cuda:N` is GPU N's CUDA
 * stream (CUDA build only): ops launch from the JS thread and run in order on the GPU.
 */
import { ArgumentError } from '../errors.js';
import { native, type StreamId } from '../native.js';
import { checkCudaDevice } from './cuda-status.js';

/** The stream id of cuda:N is CUDA_STREAM_BASE + N (native/napi/target.h, kCudaStreamBase). */
const CUDA_STREAM_BASE = 256;

export type DeviceKind = 'cpu' | 'cuda';
export type DeviceName = 'cpu' | `cpu:${number}` | `cuda:${number}`;

export class Device {
  /** The stream id the binding uses for this device. */
  readonly stream: StreamId;
  private constructor(
    readonly kind: DeviceKind,
    readonly index: number,
  ) {
    this.stream = kind === 'cuda' ? CUDA_STREAM_BASE + index : index;
  }

  get name(): string {
    return `${this.kind}:${this.index}`;
  }

  /** Resolves once every op queued so far on this device has run; rejects with the first kernel error since the previous wait. */
  synchronize(): Promise<void> {
    return native.synchronize(this.stream);
  }

  /** Blocks the JS thread until the device is idle. For tests and scripts, not servers. */
  synchronizeSync(): void {
    native.synchronizeSync(this.stream);
  }

  /** Ops queued or running on this device right now. */
  pending(): number {
    return native.pending(this.stream);
  }

  /**
   * cuda:N only: whether SGEMMs (conv, linear) use TF32 tensor cores (10-bit mantissa products;
   * faster, no longer within float tolerance of the CPU). Off by default. With an argument, sets
   * it for the ops queued from now on and returns the previous setting.
   */
  allowTf32(on?: boolean): boolean {
    if (this.kind !== 'cuda' || !native.cudaTf32) throw new ArgumentError(`allowTf32: ${this.name} is not a CUDA device`);
    return native.cudaTf32(this.stream, on);
  }

  /**
   * cpu:N only: the intra-op threads the ops queued on this stream from now on may use (0, the
   * default: the whole pool, CONVKIT_NUM_THREADS). Data-parallel replicas on CPU streams take a
   * share each, so that they run side by side instead of all spreading over every core.
   * Returns the previous setting.
   */
  setThreads(threads: number): number {
    if (this.kind !== 'cpu') throw new ArgumentError(`setThreads: ${this.name} is not a CPU stream`);
    if (typeof threads !== 'number' || !Number.isSafeInteger(threads) || threads < 0 || threads > 4096)
      throw new ArgumentError(`setThreads: 'threads' must be an integer in [0, 4096], got ${String(threads)}`);
    return native.setStreamThreads(this.stream, threads);
  }

  toString(): string {
    return this.name;
  }

  private static readonly cache = new Map<string, Device>();

  /** @internal Whether a device of this name was already made (and so checked). */
  static isKnown(kind: DeviceKind, index: number): boolean {
    return Device.cache.has(`${kind}:${index}`);
  }

  /** @internal */
  static get(kind: DeviceKind, index: number): Device {
    const key = `${kind}:${index}`;
    let d = Device.cache.get(key);
    if (!d) {
      d = new Device(kind, index);
      Device.cache.set(key, d);
    }
    return d;
  }
}

const MAX_CPU_STREAMS = 64;
const MAX_DEVICES = 64;

/** Parses 'cpu', 'cpu:N' (0 <= N < 64) or a Device and returns the Device. */
export function device(spec: DeviceName | Device = 'cpu'): Device {
  if (spec instanceof Device) return spec;
  const m = /^(cpu|cuda)(?::(\d+))?$/.exec(String(spec));
  if (!m) throw new ArgumentError(`device: expected 'cpu', 'cpu:N' or 'cuda:N', got ${JSON.stringify(spec)}`);
  const kind = m[1] as DeviceKind;
  const index = m[2] === undefined ? 0 : Number(m[2]);
  if (kind === 'cuda') {
    if (index >= MAX_DEVICES) throw new ArgumentError(`device: cuda index ${index} out of range [0, ${MAX_DEVICES - 1}]`);
    // Coded ND_NO_CUDA (CPU build, no GPU) or ND_ARG (no such GPU), with the reason.
    if (!Device.isKnown('cuda', index)) checkCudaDevice(String(spec), index);
    return Device.get(kind, index);
  }
  if (index >= MAX_CPU_STREAMS) throw new ArgumentError(`device: cpu stream index ${index} out of range [0, ${MAX_CPU_STREAMS - 1}]`);
  return Device.get(kind, index);
}

export function defaultDevice(): Device {
  return device('cpu');
}
