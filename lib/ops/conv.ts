/**
 * 2-D convolution (NCHW, weights [OC, C/groups, KH, KW] like PyTorch) and the im2col / col2im
 * copies it is built on. Each op validates on the JS thread, allocates its outputs and queues
 * one kernel; shapes follow torch.nn.functional.conv2d.
 */
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { native } from '../native.js';
import { Tensor, type Shape } from '../tensor/tensor.js';
import { maxPool2dValues } from './pool.js';
import {
  checkExtent,
  checkFlag,
  checkInt,
  checkInto,
  checkPerImage,
  checkTensor,
  describe,
  outputInto,
  pair,
  sameDevice,
} from './validate.js';

const nb = native;

type Size2 = number | readonly [number, number];

/** Window options shared by conv2d, im2col and col2im. */
export interface ConvWindow {
  stride?: Size2;
  padding?: Size2;
  dilation?: Size2;
}

export interface Im2colOptions extends ConvWindow {
  kernelSize: Size2;
}

export interface Col2imOptions extends Im2colOptions {
  /** The image's [H, W] (several image sizes give the same number of windows). */
  inputSize: Size2;
}

export interface Conv2dOptions extends ConvWindow {
  /** [OC], added to every output position of its channel. */
  bias?: Tensor | null;
  /** Channels are split into this many independent groups (AlexNet's two towers: 2). */
  groups?: number;
  /** Fixed 0/1 connection table [OC, C/groups] (LeNet-5's C3): the weight used is w * mask. */
  mask?: Tensor | null;
}

/** conv2d's options plus a fused activation (forward only: inference). */
export interface Conv2dForwardOptions extends Conv2dOptions {
  /** 'relu': y = max(0, conv + bias), applied in the kernel's own output pass. */
  activation?: 'relu' | null;
}

export interface Conv2dBackwardOptions extends Conv2dOptions {
  /** Compute dx (default true; a network's first layer does not need it). */
  needInputGrad?: boolean;
  /**
   * Tensors to write dw (w's shape) and db ([OC]) into instead of new ones: a model's gradient
   * views. They are overwritten, not accumulated into. Wrong shapes are ND_SHAPE.
   */
  into?: { dw?: Tensor; db?: Tensor };
  /**
   * x is a ReLU's output: dx is also taken back through that ReLU (0 where x <= 0), exactly
   * reluBackward(dx, x), in the pass that writes dx (col2im) where the path has one.
   */
  reluInput?: boolean;
}

export interface Conv2dGrads {
  /** dL/dx, present unless needInputGrad was false. */
  dx?: Tensor;
  /** dL/dw (zero where the mask is 0). */
  dw: Tensor;
  /** dL/dbias, present when a bias was given. */
  db?: Tensor;
}

/** Everything a convolution kernel needs to know about its shapes. */
export interface Conv2dGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  OC: number;
  KH: number;
  KW: number;
  SH: number;
  SW: number;
  PH: number;
  PW: number;
  DH: number;
  DW: number;
  OH: number;
  OW: number;
  groups: number;
}

/** Output extent along one axis: floor((in + 2p - d(k-1) - 1) / s) + 1 (may be < 1: no fit). */
export function conv2dOutputSize(input: number, kernel: number, stride = 1, padding = 0, dilation = 1): number {
  return Math.floor((input + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** The order the binding reads: see native/napi/ops_conv.cc. */
function geomArray(g: Conv2dGeometry): number[] {
  return [g.N, g.C, g.H, g.W, g.OC, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, g.OH, g.OW, g.groups];
}

function windowGeometry(
  op: string,
  x: Shape,
  opts: ConvWindow,
  kernel: [number, number],
  C: number,
  OC: number,
  groups: number,
): Conv2dGeometry {
  const [SH, SW] = pair(op, 'stride', opts.stride, 1, 1);
  const [PH, PW] = pair(op, 'padding', opts.padding, 0, 0);
  const [DH, DW] = pair(op, 'dilation', opts.dilation, 1, 1);
  const [N, , H, W] = x;
  const [KH, KW] = kernel;
  // Bounded before any arithmetic, so that the output sizes below are exact (doubles hold
  // integers to 2^53; these stay below 2^50) and the kernels' index products fit (validate.ts).
  checkExtent(op, `input height`, H);
  checkExtent(op, `input width`, W);
  checkExtent(op, `the dilated kernel height ${DH}*(${KH}-1)+1`, DH * (KH - 1) + 1);
  checkExtent(op, `the dilated kernel width ${DW}*(${KW}-1)+1`, DW * (KW - 1) + 1);
  const OH = conv2dOutputSize(H, KH, SH, PH, DH);
  const OW = conv2dOutputSize(W, KW, SW, PW, DW);
  if (OH < 1 || OW < 1)
    throw new ShapeError(
      `${op}: a ${KH}x${KW} kernel (dilation ${DH}x${DW}) does not fit input ${fmtShape(x)} with padding ${PH}x${PW}: ` +
        `output would be ${OH}x${OW}`,
    );
  checkPerImage(op, 'the input image', [C, H, W]);
  checkPerImage(op, 'the output image', [OC, OH, OW]);
  checkPerImage(op, 'the columns of one image (C*KH*KW x OH*OW)', [C, KH, KW, OH, OW]);
  checkPerImage(op, 'the weight (OC*C/groups*KH*KW)', [OC, C / groups, KH, KW]);
  return { N, C, H, W, OC, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW, groups };
}

/** Validates x, w and the options of conv2d / conv2dBackward and returns the geometry. */
function convGeometry(op: string, x: Tensor, w: Tensor, opts: Conv2dOptions): Conv2dGeometry {
  checkTensor(op, 'x', x, { rank: 4 });
  checkTensor(op, 'w', w, { rank: 4 });
  const groups = checkInt(op, 'groups', opts.groups ?? 1, 1);
  const [, C] = x.shape;
  const [OC, Cg, KH, KW] = w.shape;
  if (C % groups !== 0) throw new ShapeError(`${op}: 'x' ${fmtShape(x.shape)} has ${C} channels, not divisible by groups ${groups}`);
  if (OC % groups !== 0)
    throw new ShapeError(`${op}: 'w' ${fmtShape(w.shape)} has ${OC} output channels, not divisible by groups ${groups}`);
  if (Cg !== C / groups)
    throw new ShapeError(
      `${op}: 'w' ${fmtShape(w.shape)} must be [OC, ${C / groups}, KH, KW] for 'x' ${fmtShape(x.shape)} with groups ${groups}`,
    );
  if (OC < 1 || KH < 1 || KW < 1 || C < 1)
    throw new ShapeError(`${op}: 'w' ${fmtShape(w.shape)} and 'x' ${fmtShape(x.shape)} must not be empty`);
  const g = windowGeometry(op, x.shape, opts, [KH, KW], C, OC, groups);
  const { bias, mask } = opts;
  if (bias !== undefined && bias !== null) {
    checkTensor(op, 'bias', bias);
    if (bias.rank !== 1 || bias.shape[0] !== OC)
      throw new ShapeError(`${op}: 'bias' ${fmtShape(bias.shape)} must be [${OC}] for 'w' ${fmtShape(w.shape)}`);
  }
  if (mask !== undefined && mask !== null) {
    checkTensor(op, 'mask', mask);
    if (mask.rank !== 2 || mask.shape[0] !== OC || mask.shape[1] !== Cg)
      throw new ShapeError(`${op}: 'mask' ${fmtShape(mask.shape)} must be [${OC}, ${Cg}] for 'w' ${fmtShape(w.shape)}`);
  }
  sameDevice(op, { x, w, bias, mask });
  return g;
}

function required<T>(op: string, name: string, v: T | undefined): T {
  if (v === undefined) throw new ArgumentError(`${op}: '${name}' is required`);
  return v;
}

function imageGeometry(op: string, shape: Shape, opts: Im2colOptions): Conv2dGeometry {
  const kernel = pair(op, 'kernelSize', required(op, 'kernelSize', opts?.kernelSize), 1, 1);
  const C = shape[1];
  return windowGeometry(op, shape, opts, kernel, C, C, 1);
}

/**
 * The sliding windows of x [N, C, H, W] as columns: [N, C*KH*KW, OH*OW], row (c*KH + kh)*KW + kw,
 * column oh*OW + ow; positions in the padding are 0. An exact copy.
 */
export function im2col(x: Tensor, opts: Im2colOptions): Tensor {
  checkTensor('im2col', 'x', x, { rank: 4 });
  const g = imageGeometry('im2col', x.shape, opts);
  if (g.C < 1) throw new ShapeError(`im2col: 'x' ${fmtShape(x.shape)} has no channels`);
  const cols = Tensor.empty([g.N, g.C * g.KH * g.KW, g.OH * g.OW], 'float32', x.device);
  nb.im2col(x.device.stream, x.handle(), cols.handle(), geomArray(g));
  return cols;
}

/**
 * The adjoint of im2col: sums columns [N, C*KH*KW, OH*OW] back into an image [N, C, H, W]
 * (a position covered by several windows receives the sum of their entries).
 */
export function col2im(cols: Tensor, opts: Col2imOptions): Tensor {
  const op = 'col2im';
  checkTensor(op, 'cols', cols, { rank: 3 });
  const [KH, KW] = pair(op, 'kernelSize', required(op, 'kernelSize', opts?.kernelSize), 1, 1);
  const [H, W] = pair(op, 'inputSize', required(op, 'inputSize', opts?.inputSize), 1, 1);
  const [N, rows, positions] = cols.shape;
  if (rows % (KH * KW) !== 0 || rows === 0)
    throw new ShapeError(`${op}: 'cols' ${fmtShape(cols.shape)} must have C*${KH}*${KW} rows for a ${KH}x${KW} kernel`);
  const C = rows / (KH * KW);
  const g = imageGeometry(op, [N, C, H, W], opts);
  if (positions !== g.OH * g.OW)
    throw new ShapeError(`${op}: 'cols' ${fmtShape(cols.shape)} must have ${g.OH}*${g.OW} = ${g.OH * g.OW} columns for input [${H}, ${W}]`);
  const x = Tensor.zeros([N, C, H, W], { device: cols.device });
  nb.col2im(cols.device.stream, cols.handle(), x.handle(), geomArray(g));
  return x;
}

/**
 * y = conv(x, w) + bias: x [N, C, H, W], w [OC, C/groups, KH, KW] -> y [N, OC, OH, OW];
 * with activation 'relu', max(0, y) in the same pass (equal to ops.relu(conv2d(...)) exactly).
 */
export function conv2d(x: Tensor, w: Tensor, opts: Conv2dForwardOptions = {}): Tensor {
  const g = convGeometry('conv2d', x, w, opts);
  const act = opts.activation ?? null;
  if (act !== null && act !== 'relu') throw new ArgumentError(`conv2d: 'activation' must be 'relu' or null, got ${describe(act)}`);
  const y = Tensor.empty([g.N, g.OC, g.OH, g.OW], 'float32', x.device);
  nb.conv2dForward(
    x.device.stream,
    x.handle(),
    w.handle(),
    opts.bias?.handle() ?? null,
    opts.mask?.handle() ?? null,
    y.handle(),
    geomArray(g),
    act === 'relu',
  );
  return y;
}

/**
 * maxPool2dValues(conv2d(x, w, opts), { kernelSize: 2 }) in one op: y [N, OC, floor(OH / 2),
 * floor(OW / 2)], the same values bit for bit (the ReLU first with activation 'relu'). Inference
 * only: no argmax is kept, so there is no backward. On a CPU stream it is one kernel, and where
 * the direct convolution applies (LeNet-5's C1 and C3) it pools straight out of the kernel's
 * wide rows, so the full-size output is never written nor read back; on other devices it
 * queues the two ops.
 */
export function conv2dMaxPool2x2(x: Tensor, w: Tensor, opts: Conv2dForwardOptions = {}): Tensor {
  const op = 'conv2dMaxPool2x2';
  const g = convGeometry(op, x, w, opts);
  const act = opts.activation ?? null;
  if (act !== null && act !== 'relu') throw new ArgumentError(`${op}: 'activation' must be 'relu' or null, got ${describe(act)}`);
  if (g.OH < 2 || g.OW < 2) throw new ShapeError(`${op}: the convolution's output ${g.OH}x${g.OW} is smaller than the 2x2 pooling window`);
  if (x.device.kind !== 'cpu') {
    const full = conv2d(x, w, opts);
    try {
      return maxPool2dValues(full, { kernelSize: 2 });
    } finally {
      full.dispose();
    }
  }
  const y = Tensor.empty([g.N, g.OC, Math.floor(g.OH / 2), Math.floor(g.OW / 2)], 'float32', x.device);
  nb.conv2dMaxPool2x2(
    x.device.stream,
    x.handle(),
    w.handle(),
    opts.bias?.handle() ?? null,
    opts.mask?.handle() ?? null,
    y.handle(),
    geomArray(g),
    act === 'relu',
  );
  return y;
}

/**
 * Gradients of conv2d given dy = dL/dy [N, OC, OH, OW], with the same options as the forward
 * call: dx (unless needInputGrad is false), dw, and db when a bias was given.
 */
export function conv2dBackward(dy: Tensor, x: Tensor, w: Tensor, opts: Conv2dBackwardOptions = {}): Conv2dGrads {
  const op = 'conv2dBackward';
  const g = convGeometry(op, x, w, opts);
  checkTensor(op, 'dy', dy, { rank: 4 });
  sameDevice(op, { x, dy });
  const yShape = [g.N, g.OC, g.OH, g.OW];
  if (dy.shape.some((d, i) => d !== yShape[i]))
    throw new ShapeError(
      `${op}: 'dy' ${fmtShape(dy.shape)} must be the conv2d output shape ${fmtShape(yShape)} for 'x' ${fmtShape(x.shape)} and 'w' ${fmtShape(w.shape)}`,
    );
  const needInputGrad = opts.needInputGrad ?? true;
  const reluInput = checkFlag(op, 'reluInput', opts.reluInput, false);
  checkInto(op, 'dw', opts.into?.dw, w.shape, x.device);
  if (opts.bias) checkInto(op, 'db', opts.into?.db, [g.OC], x.device);
  if (opts.into?.dw && opts.into.dw === opts.into.db) throw new ArgumentError(`${op}: 'into.dw' and 'into.db' must be distinct tensors`);
  const dx = needInputGrad ? Tensor.empty(x.shape, 'float32', x.device) : undefined;
  const dw = outputInto(opts.into?.dw, w.shape, x.device);
  const db = opts.bias ? outputInto(opts.into?.db, [g.OC], x.device) : undefined;
  nb.conv2dBackward(
    x.device.stream,
    dy.handle(),
    x.handle(),
    w.handle(),
    opts.mask?.handle() ?? null,
    dx?.handle() ?? null,
    dw.handle(),
    db?.handle() ?? null,
    geomArray(g),
    reluInput,
  );
  const grads: Conv2dGrads = { dw };
  if (dx) grads.dx = dx;
  if (db) grads.db = db;
  return grads;
}
