/** Per-channel affine map y[n,c] = a[c]*x[n,c] + b[c] over NCHW (LeNet-5's subsampling coefficients). */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { native } from '../native.js';
import { Tensor } from '../tensor/tensor.js';
import { checkInto, checkTensor, outputInto, sameDevice } from './validate.js';

const nb = native;

function dims(op: string, x: Tensor, a: Tensor, b: Tensor): [number, number, number] {
  if (x.rank < 2) throw new ShapeError(`${op}: 'x' must be [N, C, ...], got ${fmtShape(x.shape)}`);
  const [N, C] = x.shape;
  const HW = x.size / Math.max(1, N * C);
  for (const [name, t] of [
    ['a', a],
    ['b', b],
  ] as const)
    if (t.rank !== 1 || t.shape[0] !== C)
      throw new ShapeError(`${op}: '${name}' ${fmtShape(t.shape)} must be [${C}] for 'x' ${fmtShape(x.shape)}`);
  return [N, C, HW];
}

export function channelAffine(x: Tensor, a: Tensor, b: Tensor): Tensor {
  const op = 'channelAffine';
  checkTensor(op, 'x', x);
  checkTensor(op, 'a', a);
  checkTensor(op, 'b', b);
  sameDevice(op, { x, a, b });
  const [N, C, HW] = dims(op, x, a, b);
  const y = Tensor.empty(x.shape, 'float32', x.device);
  nb.channelAffine(x.device.stream, x.handle(), a.handle(), b.handle(), y.handle(), N, C, HW);
  return y;
}

export function channelAffineBackward(
  dy: Tensor,
  x: Tensor,
  a: Tensor,
  /** into: tensors to overwrite with da and db ([C] each) instead of new ones (a model's gradient views). */
  opts: { needInputGrad?: boolean; into?: { da?: Tensor; db?: Tensor } } = {},
): { dx?: Tensor; da: Tensor; db: Tensor } {
  const op = 'channelAffineBackward';
  checkTensor(op, 'dy', dy);
  checkTensor(op, 'x', x);
  checkTensor(op, 'a', a);
  sameDevice(op, { dy, x, a });
  if (dy.size !== x.size || dy.shape.some((d, i) => d !== x.shape[i]))
    throw new ShapeError(`${op}: 'dy' ${fmtShape(dy.shape)} must match 'x' ${fmtShape(x.shape)}`);
  const [N, C, HW] = dims(op, x, a, a);
  checkInto(op, 'da', opts.into?.da, [C], x.device);
  checkInto(op, 'db', opts.into?.db, [C], x.device);
  if (opts.into?.da && opts.into.da === opts.into.db) throw new ArgumentError(`${op}: 'into.da' and 'into.db' must be distinct tensors`);
  const dx = opts.needInputGrad === false ? undefined : Tensor.empty(x.shape, 'float32', x.device);
  const da = outputInto(opts.into?.da, [C], x.device);
  const db = outputInto(opts.into?.db, [C], x.device);
  nb.channelAffineBackward(
    x.device.stream,
    dy.handle(),
    x.handle(),
    a.handle(),
    dx ? dx.handle() : null,
    da.handle(),
    db.handle(),
    N,
    C,
    HW,
  );
  return { dx, da, db };
}
