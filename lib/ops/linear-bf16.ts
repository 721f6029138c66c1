/**
 * Inference-only Linear with bf16 weights (CPU streams only; Model.compilePredictor's
 * `precision: 'bf16'` uses it). packBf16 rounds W [out, in] to bf16 (nearest, ties to even; NaN
 * stays NaN) into an int32 tensor [out, ceil(in / 2)] holding two bf16 per element;
 * linearBf16 computes x W^T + b from it with fp32 activations and fp32 sums, so its only error
 * against ops.linear is the weights' rounding (a relative 2^-9 per weight at most).
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor/tensor.js';
import type { Device } from '../tensor/device.js';
import { checkInt, checkTensor, sameDevice } from './validate.js';

const nb = native;

/** The shape packBf16 gives for W [out, in]. */
export function bf16PackedShape(outFeatures: number, inFeatures: number): [number, number] {
  return [outFeatures, Math.ceil(inFeatures / 2)];
}

function cpuOnly(op: string, dev: Device): void {
  if (dev.kind !== 'cpu') throw new ArgumentError(`${op}: bf16 weights run on CPU streams only, got a tensor on ${dev.name}`);
}

function checkPacked(op: string, name: string, t: Tensor, shape: [number, number]): void {
  if (t.rank !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1])
    throw new ShapeError(`${op}: '${name}' must be ${fmtShape(shape)}, got shape ${fmtShape(t.shape)}`);
}

/**
 * W [out, in] float32 as bf16, packed two to an int32: [out, ceil(in / 2)]. With `into`, writes
 * an existing packed tensor of that shape (queued in stream order, like any op) and returns it.
 */
export function packBf16(w: Tensor, opts: { into?: Tensor } = {}): Tensor {
  const op = 'packBf16';
  checkTensor(op, 'w', w, { rank: 2 });
  cpuOnly(op, w.device);
  const [outF, inF] = w.shape;
  const shape = bf16PackedShape(outF, inF);
  let packed: Tensor;
  if (opts.into !== undefined) {
    packed = checkTensor(op, 'into', opts.into, { dtype: 'int32' });
    checkPacked(op, 'into', packed, shape);
    sameDevice(op, { w, into: packed });
  } else packed = Tensor.empty(shape, 'int32', w.device);
  nb.packBf16(w.device.stream, w.handle(op, 'w'), packed.handle(op, 'into'), outF, inF);
  return packed;
}

/** x [..., in] W^T + b with W given by packBf16 (its in-features are needed: ceil(in / 2) loses them). */
export function linearBf16(x: Tensor, packed: Tensor, b: Tensor | null | undefined, inFeatures: number): Tensor {
  const op = 'linearBf16';
  checkTensor(op, 'x', x);
  checkTensor(op, 'packed', packed, { dtype: 'int32', rank: 2 });
  if (b != null) checkTensor(op, 'b', b);
  checkInt(op, 'inFeatures', inFeatures, 0);
  sameDevice(op, { x, packed, b });
  cpuOnly(op, x.device);
  const outF = packed.shape[0];
  checkPacked(op, 'packed', packed, bf16PackedShape(outF, inFeatures));
  if (x.rank < 1 || x.shape[x.rank - 1] !== inFeatures)
    throw new ShapeError(`${op}: 'x' must be [..., ${inFeatures}] (the packed weights' in-features), got shape ${fmtShape(x.shape)}`);
  if (b != null && (b.rank !== 1 || b.shape[0] !== outF))
    throw new ShapeError(`${op}: 'b' must be [${outF}] to match the packed weights' out-features, got shape ${fmtShape(b.shape)}`);
  const N = x.shape.slice(0, -1).reduce((a, d) => a * d, 1);
  const y = Tensor.empty([...x.shape.slice(0, -1), outF], 'float32', x.device);
  nb.linearBf16(
    x.device.stream,
    x.handle(op, 'x'),
    packed.handle(op, 'packed'),
    b != null ? b.handle(op, 'b') : null,
    y.handle(),
    N,
    inFeatures,
    outF,
  );
  return y;
}
