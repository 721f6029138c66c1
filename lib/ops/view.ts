/**
 * A tensor over a range of another's bytes (no copy): how a model's parameters and gradients
 * become views into its flat buffers. Writing through the view writes the base, and the base's
 * storage stays alive while any view of it does (storages are reference-counted).
 */
import { ShapeError, fmtShape } from '../errors.js';
import { native } from '../native.js';
import { Tensor, sizeOf, type Shape } from '../tensor/tensor.js';
import { checkInt, checkTensor } from './validate.js';

/** The elements [offset, offset + size(shape)) of `base` as a tensor of `shape` (same dtype and device). */
export function viewOf(base: Tensor, offset: number, shape: Shape): Tensor {
  const op = 'viewOf';
  checkTensor(op, 'base', base, { dtype: base instanceof Tensor ? base.dtype : 'float32' });
  checkInt(op, 'offset', offset, 0);
  for (const d of shape) checkInt(op, 'shape', d, 0);
  const n = sizeOf(shape);
  if (offset + n > base.size)
    throw new ShapeError(`${op}: elements [${offset}, ${offset + n}) as ${fmtShape(shape)} lie outside 'base' ${fmtShape(base.shape)}`);
  return new Tensor(native.view(base.handle(op, 'base'), offset * 4, n * 4), Object.freeze([...shape]), base.dtype, base.device);
}
