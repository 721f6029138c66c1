/**
 * Devices are in-order streams (DESIGN.md). `cpu:N` is native executor thread N; ops on it run
 * in the order they were called, off the JS thread. `cpu` is `cpu:0`.
 */
import { ArgumentError } from '../errors.js';
import { native, type StreamId } from '../native.js';

export type DeviceKind = 'cpu' | 'cuda';
export type DeviceName = 'cpu' | `cpu:${number}` | `cuda:${number}`;

export class Device {
  /** The stream id the binding uses for this device. */
  readonly stream: StreamId;
  private constructor(
    readonly kind: DeviceKind,
    readonly index: number,
  ) {
    this.stream = index;
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

  toString(): string {
    return this.name;
  }

  private static readonly cache = new Map<string, Device>();

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

/** Parses 'cpu', 'cpu:N' (0 <= N < 64) or a Device and returns the Device. */
export function device(spec: DeviceName | Device = 'cpu'): Device {
  if (spec instanceof Device) return spec;
  const m = /^(cpu|cuda)(?::(\d+))?$/.exec(String(spec));
  if (!m) throw new ArgumentError(`device: expected 'cpu', 'cpu:N' or 'cuda:N', got ${JSON.stringify(spec)}`);
  const kind = m[1] as DeviceKind;
  const index = m[2] === undefined ? 0 : Number(m[2]);
  if (kind === 'cuda') {
    const e = new Error(`device: '${spec}' needs the CUDA build of convkit, which is not loaded (backends() tells why)`);
    (e as Error & { code: string }).code = 'ND_NO_CUDA';
    throw e;
  }
  if (index >= MAX_CPU_STREAMS) throw new ArgumentError(`device: cpu stream index ${index} out of range [0, ${MAX_CPU_STREAMS - 1}]`);
  return Device.get(kind, index);
}

export function defaultDevice(): Device {
  return device('cpu');
}
