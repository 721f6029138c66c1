/**
 * --device: 'cpu', 'cpu:N' or 'cuda:N'. A malformed name is a usage error (exit 2); a well-formed
 * one is handed to the library's device(), whose coded errors (ND_NO_CUDA in a CPU build or
 * without a GPU, ND_ARG for an index out of range) the CLI reports as they are (exit 1).
 */
import { device, type DeviceName } from '../tensor/device.js';
import { UsageError, type Values } from './args.js';

export function deviceArg(v: Values): DeviceName {
  const name = (v.device as string | undefined) ?? 'cpu';
  if (!/^(cpu|cuda)(:\d+)?$/.test(name)) throw new UsageError(`--device must be cpu, cpu:N or cuda:N, got ${JSON.stringify(name)}`);
  device(name as DeviceName); // throws the library's coded error when the device cannot be used
  return name as DeviceName;
}

/**
 * --devices: a comma-separated list of device names for data parallelism, or null when absent.
 * Malformed names, an empty list and --device given too are usage errors; DataParallel itself
 * reports duplicates and mixed kinds (ND_ARG).
 */
export function devicesArg(v: Values): DeviceName[] | null {
  const list = v.devices as string | undefined;
  if (list === undefined) return null;
  if (v.device !== undefined) throw new UsageError('--device and --devices exclude each other (--devices lists every replica)');
  const names = list.split(',').map((s) => s.trim());
  for (const n of names)
    if (!/^(cpu|cuda)(:\d+)?$/.test(n))
      throw new UsageError(`--devices must list cpu:N or cuda:N names, got ${JSON.stringify(n)} in ${JSON.stringify(list)}`);
  for (const n of names) device(n as DeviceName);
  return names as DeviceName[];
}
