/**
 * Collectives over a group of devices, one float32 tensor per device (DESIGN.md, data parallel):
 * all-reduce (sum or mean) and broadcast, in place, over the same element range of every
 * tensor (so that buckets of one flat gradient buffer can be reduced as they become ready).
 * A call is validated here, queued on every device's stream in the order of its earlier ops,
 * and returns at once; `await device.synchronize()` or a read waits for it. The group is all
 * CPU streams (`cpu:0`, `cpu:1`, ...: the shared-memory engine, the reduction split across the
 * streams) or all GPUs (NCCL, or its copy+reduce fallback: `backends()` says which). Every
 * member ends with the same bytes: the sum is taken in member order, 0 + 1 + 2 ...
 */
import { ArgumentError } from '../errors.js';
import { native } from '../native.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkInt, checkTensor, describe } from './validate.js';

export type ReduceOp = 'sum' | 'mean';

/** An element range of every member's tensor; the whole tensor by default. */
export interface CollectiveRange {
  /** First element (default 0). */
  offset?: number;
  /** Elements (default: from offset to the end). */
  length?: number;
}

export interface AllReduceOptions extends CollectiveRange {
  op?: ReduceOp;
}

export interface BroadcastOptions extends CollectiveRange {
  /** The index in `tensors` of the member whose values every other member receives. */
  root: number;
}

interface Group {
  tensors: Tensor[];
  offset: number;
  length: number;
}

/** The checks every collective shares; ND_ARG (or ND_DISPOSED) naming the member at fault. */
function checkGroup(op: string, tensors: unknown, range: CollectiveRange): Group {
  if (!Array.isArray(tensors)) throw new ArgumentError(`${op}: 'tensors' must be an array of tensors, got ${describe(tensors)}`);
  if (tensors.length === 0) throw new ArgumentError(`${op}: no devices (an empty list of tensors)`);
  const list = tensors.map((t, i) => checkTensor(op, `tensors[${i}]`, t));
  const first = list[0];
  const seen = new Map<string, number>();
  list.forEach((t, i) => {
    if (t.device.kind !== first.device.kind)
      throw new ArgumentError(
        `${op}: tensors[${i}] is on ${t.device.name} but tensors[0] is on ${first.device.name}: a group is all CPU streams or all GPUs`,
      );
    const other = seen.get(t.device.name);
    if (other !== undefined)
      throw new ArgumentError(`${op}: tensors[${other}] and tensors[${i}] are both on ${t.device.name}: one tensor per device`);
    seen.set(t.device.name, i);
    if (t.size !== first.size)
      throw new ArgumentError(
        `${op}: tensors[${i}] has ${t.size} elements but tensors[0] has ${first.size}: every member needs the same size`,
      );
  });
  if (range === null || typeof range !== 'object') throw new ArgumentError(`${op}: options must be an object, got ${describe(range)}`);
  const offset = range.offset === undefined ? 0 : checkInt(op, 'offset', range.offset, 0, first.size);
  const length = range.length === undefined ? first.size - offset : checkInt(op, 'length', range.length, 0);
  if (offset + length > first.size)
    throw new ArgumentError(`${op}: elements [${offset}, ${offset + length}) are outside tensors of ${first.size} elements`);
  return { tensors: list, offset, length };
}

function handles(op: string, g: Group) {
  return {
    streams: g.tensors.map((t) => t.device.stream),
    handles: g.tensors.map((t, i) => t.handle(op, `tensors[${i}]`)),
  };
}

/**
 * In place: every tensor's range becomes the sum (or mean) of that range over all tensors.
 * Queued on every tensor's device; returns at once.
 */
export function allReduce(tensors: readonly Tensor[], options: AllReduceOptions = {}): void {
  const g = checkGroup('allReduce', tensors, options);
  const op = options.op ?? 'sum';
  if (op !== 'sum' && op !== 'mean') throw new ArgumentError(`allReduce: 'op' must be 'sum' or 'mean', got ${describe(op)}`);
  const { streams, handles: hs } = handles('allReduce', g);
  native.allReduce(streams, hs, g.offset, g.length, op === 'mean' ? 1 : 0);
}

/** In place: every tensor's range becomes tensors[root]'s. Queued on every device; returns at once. */
export function broadcast(tensors: readonly Tensor[], options: BroadcastOptions): void {
  if (options === null || typeof options !== 'object')
    throw new ArgumentError(`broadcast: options { root } are required, got ${describe(options)}`);
  const g = checkGroup('broadcast', tensors, options);
  const root = checkInt('broadcast', 'root', options.root, 0, g.tensors.length - 1);
  const { streams, handles: hs } = handles('broadcast', g);
  native.broadcast(streams, hs, g.offset, g.length, root);
}
