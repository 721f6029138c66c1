/** Elementwise ops training needs. Each validates, allocates its output and queues one kernel. */
import { native } from '../native.js';
import { Tensor } from '../tensor/tensor.js';
import { checkNumber, checkTensor, sameDevice, sameShape } from './validate.js';

function binary(op: 'add' | 'mul', a: Tensor, b: Tensor): Tensor {
  checkTensor(op, 'a', a);
  checkTensor(op, 'b', b);
  sameDevice(op, { a, b });
  sameShape(op, 'a', a, 'b', b);
  const y = Tensor.empty(a.shape, 'float32', a.device);
  native[op](a.device.stream, a.handle(), b.handle(), y.handle(), a.size);
  return y;
}

/** a + b (same shapes). */
export function add(a: Tensor, b: Tensor): Tensor {
  return binary('add', a, b);
}

/** a * b elementwise (same shapes). */
export function mul(a: Tensor, b: Tensor): Tensor {
  return binary('mul', a, b);
}

/** s * x. */
export function scale(x: Tensor, s: number): Tensor {
  checkTensor('scale', 'x', x);
  checkNumber('scale', 's', s);
  const y = Tensor.empty(x.shape, 'float32', x.device);
  native.axpby(x.device.stream, x.handle(), y.handle(), x.size, s, 0);
  return y;
}

/** In place: y = a*x + b*y. Returns y. */
export function axpbyInPlace(x: Tensor, y: Tensor, a: number, b: number): Tensor {
  checkTensor('axpby', 'x', x);
  checkTensor('axpby', 'y', y);
  sameDevice('axpby', { x, y });
  sameShape('axpby', 'x', x, 'y', y);
  checkNumber('axpby', 'a', a);
  checkNumber('axpby', 'b', b);
  native.axpby(x.device.stream, x.handle(), y.handle(), x.size, a, b);
  return y;
}

/** A copy of x (new storage). */
export function clone(x: Tensor): Tensor {
  checkTensor('clone', 'x', x, { dtype: x instanceof Tensor ? x.dtype : 'float32' });
  const y = Tensor.empty(x.shape, x.dtype, x.device);
  native.copy(x.device.stream, x.handle(), y.handle(), x.size);
  return y;
}

/** In place: copies src into dst (same shapes). */
export function copyInto(src: Tensor, dst: Tensor): Tensor {
  checkTensor('copyInto', 'src', src, { dtype: src instanceof Tensor ? src.dtype : 'float32' });
  checkTensor('copyInto', 'dst', dst, { dtype: src.dtype });
  sameDevice('copyInto', { src, dst });
  sameShape('copyInto', 'src', src, 'dst', dst);
  native.copy(src.device.stream, src.handle(), dst.handle(), src.size);
  return dst;
}

/** In place: every element of x set to value. */
export function fillInPlace(x: Tensor, value: number): Tensor {
  checkTensor('fill', 'x', x);
  checkNumber('fill', 'value', value, { finite: false });
  native.fill(x.device.stream, x.handle(), x.size, value);
  return x;
}

/** The sum of all elements, as a [1] tensor (accumulated in double). */
export function sum(x: Tensor): Tensor {
  checkTensor('sum', 'x', x);
  const y = Tensor.empty([1], 'float32', x.device);
  native.sum(x.device.stream, x.handle(), y.handle(), x.size);
  return y;
}
