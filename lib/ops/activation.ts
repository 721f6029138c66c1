/**
 * Activations and their backward passes. Backward takes the forward's *output* y (exact for all
 * four), so a layer keeps one tensor and the forward may run in place. Scaled tanh is LeNet-5's
 * squashing function f(a) = 1.7159 tanh(2a/3).
 */
import { native } from '../native.js';
import { Tensor } from '../tensor/tensor.js';
import { checkTensor, sameDevice, sameShape } from './validate.js';

type Kind = 'relu' | 'tanh' | 'sigmoid' | 'scaledTanh';

const nb = native;

/** LeNet-5's constants: f(a) = A tanh(S a). */
export const SCALED_TANH_A = 1.7159;
export const SCALED_TANH_S = 2 / 3;

function forward(kind: Kind, x: Tensor, out?: Tensor): Tensor {
  checkTensor(kind, 'x', x);
  const y = out ?? Tensor.empty(x.shape, 'float32', x.device);
  nb[kind](x.device.stream, x.handle(kind, 'x'), y.handle(kind, 'y'), x.size);
  return y;
}

function backward(kind: Kind, dy: Tensor, y: Tensor): Tensor {
  const op = `${kind}Backward` as const;
  checkTensor(op, 'dy', dy);
  checkTensor(op, 'y', y);
  sameDevice(op, { dy, y });
  sameShape(op, 'dy', dy, 'y', y);
  const dx = Tensor.empty(dy.shape, 'float32', dy.device);
  nb[op](dy.device.stream, dy.handle(op, 'dy'), y.handle(op, 'y'), dx.handle(), dy.size);
  return dx;
}

/** max(x, 0); NaN stays NaN. */
export function relu(x: Tensor): Tensor {
  return forward('relu', x);
}
/** relu applied to x's own storage; returns x. */
export function reluInPlace(x: Tensor): Tensor {
  return forward('relu', x, x);
}
/** dy where y > 0, else 0. y may be relu's output or its input (the sign is the same). */
export function reluBackward(dy: Tensor, y: Tensor): Tensor {
  return backward('relu', dy, y);
}

export function tanh(x: Tensor): Tensor {
  return forward('tanh', x);
}
export function tanhInPlace(x: Tensor): Tensor {
  return forward('tanh', x, x);
}
/** dy * (1 - y^2), y = tanh(x). */
export function tanhBackward(dy: Tensor, y: Tensor): Tensor {
  return backward('tanh', dy, y);
}

/** 1 / (1 + exp(-x)), without overflow for large |x|. */
export function sigmoid(x: Tensor): Tensor {
  return forward('sigmoid', x);
}
export function sigmoidInPlace(x: Tensor): Tensor {
  return forward('sigmoid', x, x);
}
/** dy * y * (1 - y), y = sigmoid(x). */
export function sigmoidBackward(dy: Tensor, y: Tensor): Tensor {
  return backward('sigmoid', dy, y);
}

/** 1.7159 tanh(2x/3) (LeNet-5). */
export function scaledTanh(x: Tensor): Tensor {
  return forward('scaledTanh', x);
}
export function scaledTanhInPlace(x: Tensor): Tensor {
  return forward('scaledTanh', x, x);
}
/** dy * (2/3) * (1.7159 - y^2 / 1.7159), y = scaledTanh(x). */
export function scaledTanhBackward(dy: Tensor, y: Tensor): Tensor {
  return backward('scaledTanh', dy, y);
}
