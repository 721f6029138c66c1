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
