/**
 * ONNX export of a Model (any Sequential of convkit's layers), in eval mode: opset 13, IR 7, one
 * input "input" [N, ...inputShape] with a symbolic batch "N" and one output "output", the net's
 * raw output (logits; for LeNet-5's RBF output, the penalties y, smallest = predicted class). With
 * { probabilities: true } a Softmax (of -y for the RBF output) is appended, equal to predictProbs.
 *
 * How each layer is written:
 * - Conv2d -> Conv (group, pads, strides, dilations). A fixed connection mask (LeNet-5's C3) is
 *   folded into the weights: W * mask, which is exactly the weight our kernel uses.
 * - Linear -> Gemm(transB = 1); Flatten -> Flatten(axis = 1).
 * - MaxPool2d -> MaxPool, AvgPool2d -> AveragePool (count_include_pad as ours), ceil_mode kept.
 * - Subsampling (LeNet's S2/S4: coef * sum of a k x k window + bias, per map) -> a depthwise
 *   Conv with every weight of map c equal to coef[c], bias[c], stride k.
 * - LocalResponseNorm -> LRN. ONNX divides its alpha by size (b = a / (bias + alpha/size *
 *   sum a^2)^beta), so a 'literal' alpha is written as alpha * size and a 'per-size' alpha as
 *   is. Only odd sizes: for even sizes ONNX's window leans the other way from ours (and
 *   PyTorch's), so they are refused rather than exported wrong.
 * - ReLU, Tanh, Sigmoid -> the ONNX op; ScaledTanh (1.7159 tanh(2x/3)) -> Mul, Tanh, Mul.
 * - Dropout -> nothing (inverted dropout is the identity at inference) or, in 'paper' mode,
 *   Mul by (1 - p), the paper's test-time scaling.
 * - RBFOutput (y[n,i] = sum_j (x[n,j] - c[i,j])^2 with fixed codes c [K, F]) -> Unsqueeze x to
 *   [N, F, 1], Sub c^T [F, K] (broadcast to [N, F, K]), Mul by itself, ReduceSum over axis 1.
 *   This is the definition term by term (not ||x||^2 - 2x.c + ||c||^2, which cancels badly in
 *   float32 when x is close to a code).
 */
import { ArgumentError } from '../errors.js';
import { SCALED_TANH_A, SCALED_TANH_S } from '../ops/activation.js';
import { ModelProto } from '../io/onnx-schema.js';
import { OnnxGraph } from '../io/onnx-graph.js';
import { writeFileAtomic } from '../io/durable-write.js';
import { Sigmoid, ReLU, ScaledTanh, Tanh } from '../layers/activations.js';
import { Conv2d } from '../layers/conv2d.js';
import { Dropout } from '../layers/dropout.js';
import { Flatten } from '../layers/flatten.js';
import type { Layer } from '../layers/layer.js';
import { Linear } from '../layers/linear.js';
import { LocalResponseNorm } from '../layers/lrn.js';
import { AvgPool2d, MaxPool2d } from '../layers/pooling.js';
import { RBFOutput } from '../layers/rbf-output.js';
import { Subsampling } from '../layers/subsampling.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Model } from './model.js';

export const ONNX_OPSET = 13;
const IR_VERSION = 7; // the IR of opset 13 (ONNX 1.8)

export interface OnnxExportOptions {
  /** Append a Softmax so the output is class probabilities (as predictProbs). Default false. */
  probabilities?: boolean;
  /** Graph name (default: the model's name). */
  graphName?: string;
}

async function f32(t: Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

async function addLayer(g: OnnxGraph, l: Layer, x: string): Promise<string> {
  const n = l.name;
  if (l instanceof Conv2d) {
    const { kernelSize: k, stride, padding, dilation, groups, outChannels, inChannels } = l.opts;
    let w = await f32(l.weight.value);
    if (l.mask) {
      const m = await f32(l.mask);
      const cPerG = inChannels / groups;
      w = w.slice();
      for (let o = 0; o < outChannels; o++)
        for (let c = 0; c < cPerG; c++) if (!m[o * cPerG + c]) w.fill(0, (o * cPerG + c) * k * k, (o * cPerG + c + 1) * k * k);
    }
    const inputs = [x, g.floats(l.weight.name, l.weight.value.shape, w)];
    if (l.bias) inputs.push(g.floats(l.bias.name, l.bias.value.shape, await f32(l.bias.value)));
    return g.node(
      'Conv',
      inputs,
      {
        kernel_shape: [k, k],
        strides: [stride, stride],
        pads: [padding, padding, padding, padding],
        dilations: [dilation, dilation],
        group: groups,
      },
      n,
    );
  }
  if (l instanceof Linear) {
    const inputs = [x, g.floats(l.weight.name, l.weight.value.shape, await f32(l.weight.value))];
    if (l.bias) inputs.push(g.floats(l.bias.name, l.bias.value.shape, await f32(l.bias.value)));
    return g.node('Gemm', inputs, { transB: 1 }, n);
  }
  if (l instanceof Flatten) return g.node('Flatten', [x], { axis: 1 }, n);
  if (l instanceof MaxPool2d || l instanceof AvgPool2d) {
    const p = l.padding;
    const attrs: Record<string, number | number[]> = {
      kernel_shape: [l.kernelSize, l.kernelSize],
      strides: [l.stride, l.stride],
      pads: [p, p, p, p],
      ceil_mode: l.ceilMode ? 1 : 0,
    };
    if (l instanceof AvgPool2d) attrs.count_include_pad = l.countIncludePad ? 1 : 0;
    return g.node(l instanceof MaxPool2d ? 'MaxPool' : 'AveragePool', [x], attrs, n);
  }
  if (l instanceof Subsampling) {
    const c = l.channels;
    const k = l.kernelSize;
    const coef = await f32(l.coef.value);
    const w = new Float32Array(c * k * k);
    for (let i = 0; i < c; i++) w.fill(coef[i], i * k * k, (i + 1) * k * k);
    const wName = g.floats(`${l.coef.name}.as_depthwise_weight`, [c, 1, k, k], w);
    const bName = g.floats(l.bias.name, [c], await f32(l.bias.value));
    return g.node('Conv', [x, wName, bName], { kernel_shape: [k, k], strides: [k, k], pads: [0, 0, 0, 0], group: c }, n);
  }
  if (l instanceof LocalResponseNorm) {
    const { size, alpha, beta, k, alphaConvention } = l.opts;
    if (size % 2 === 0)
      throw new ArgumentError(
        `exportOnnx: layer '${n}' is an LRN of even size ${size}; ONNX's LRN window is placed differently for even sizes, so it cannot be written exactly`,
      );
    return g.node(
      'LRN',
      [x],
      { size, alpha: { float: alphaConvention === 'literal' ? alpha * size : alpha }, beta: { float: beta }, bias: { float: k } },
      n,
    );
  }
  if (l instanceof ScaledTanh) {
    const a = g.node('Mul', [x, g.scalar(`${n}.s`, SCALED_TANH_S)], {}, `${n}.scale_in`);
    const t = g.node('Tanh', [a], {}, `${n}.tanh`);
    return g.node('Mul', [t, g.scalar(`${n}.a`, SCALED_TANH_A)], {}, n);
  }
  if (l instanceof ReLU) return g.node('Relu', [x], {}, n);
  if (l instanceof Tanh) return g.node('Tanh', [x], {}, n);
  if (l instanceof Sigmoid) return g.node('Sigmoid', [x], {}, n);
  if (l instanceof Dropout) return l.mode === 'paper' ? g.node('Mul', [x, g.scalar(`${n}.keep`, 1 - l.p)], {}, n) : x;
  if (l instanceof RBFOutput) {
    const K = l.classes;
    const F = l.inFeatures;
    const c = await f32(l.codes);
    const ct = new Float32Array(F * K);
    for (let i = 0; i < K; i++) for (let j = 0; j < F; j++) ct[j * K + i] = c[i * F + j];
    const x3 = g.node('Unsqueeze', [x, g.int64s(`${n}.axes2`, [2])], {}, `${n}.unsqueeze`);
    const d = g.node('Sub', [x3, g.floats(`${n}.codes_t`, [F, K], ct)], {}, `${n}.diff`);
    const sq = g.node('Mul', [d, d], {}, `${n}.square`);
    return g.node('ReduceSum', [sq, g.int64s(`${n}.axes1`, [1])], { keepdims: 0 }, n);
  }
  throw new ArgumentError(`exportOnnx: layer '${n}' (${l.constructor.name}) has no ONNX mapping`);
}

/** The model as ONNX ModelProto bytes. */
export async function toOnnx(model: Model, o: OnnxExportOptions = {}): Promise<Uint8Array> {
  const g = new OnnxGraph();
  // The graph's own names first, so that no layer (LeNet's RBF layer is called 'output') takes them.
  const input = g.fresh('input');
  const output = g.fresh('output');
  let cur = input;
  for (const l of model.net.layers) cur = await addLayer(g, l, cur);
  if (o.probabilities) {
    const logits = model.criterion.outputIsPenalty ? g.node('Neg', [cur], {}, 'neg_penalties') : cur;
    cur = g.node('Softmax', [logits], { axis: 1 }, 'probabilities');
  }
  g.nodeTo(output, 'Identity', [cur]);
  const outShape = model.net.outputShape(model.inputShape);
  const valueInfo = (name: string, dims: readonly number[]) => ({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'N' }, ...dims.map((d) => ({ dimValue: d }))] } } },
  });
  const msg = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'convkit',
    docString: `${model.name}: output is ${o.probabilities ? 'class probabilities' : model.criterion.outputIsPenalty ? 'RBF penalties (smallest = predicted class; softmax(-output) = predictProbs)' : 'logits'}`,
    graph: {
      name: o.graphName ?? model.name,
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo(input, model.inputShape)],
      output: [valueInfo(output, outShape)],
    },
    metadataProps: [{ key: 'convkit.model', value: JSON.stringify(model.config) }],
  };
  const err = ModelProto.verify(msg);
  if (err) throw new ArgumentError(`exportOnnx: internal schema error: ${err}`);
  return ModelProto.encode(ModelProto.fromObject(msg)).finish();
}

/** Writes the model as an ONNX file at `path` (atomically: temporary file, then rename). */
export async function exportOnnx(model: Model, path: string, o: OnnxExportOptions = {}): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) throw new ArgumentError(`exportOnnx: 'path' must be a non-empty string`);
  const bytes = await toOnnx(model, o);
  await writeFileAtomic(path, [bytes]);
}
