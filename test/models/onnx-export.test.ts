// ONNX export: the exported LeNet-5 (both variants), AlexNet (both variants, narrow fc) and a
// custom Sequential run in onnxruntime-node and give our outputs, for two batch sizes (the batch
// axis is dynamic). Tolerance: |ours - ort| <= 1e-4 * max|ours| + 1e-5 elementwise (different
// kernels and summation orders in float32; LRN and the RBF sums are where they differ most).
import t, { type Test } from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalResponseNorm, Model, Sequential, Tensor, alexnet, lenet5, type Layer } from '../../lib/index.js';
import { ModelProto } from '../../lib/io/onnx-schema.js';
import { sequentialModel, ONNX_OPSET } from '../../lib/models/index.js';
import { mismatch } from '../helpers/compare.js';

type Ort = typeof import('onnxruntime-node');
let ort: Ort | null = null;
let why = '';
try {
  ort = (await import('onnxruntime-node')) as Ort;
} catch (e) {
  why = (e as Error).message;
}

async function ours(m: Model, x: Tensor, probabilities = false): Promise<Float32Array> {
  if (probabilities) {
    const p = m.predictProbs(x);
    const out = (await p.data()) as Float32Array;
    p.dispose();
    return out;
  }
  m.net.train(false);
  const y = m.net.forward(x);
  const out = (await y.data()) as Float32Array;
  y.dispose();
  return out;
}

async function check(t: Test, m: Model, file: string, o: { probabilities?: boolean; seed?: number } = {}): Promise<void> {
  await m.exportOnnx(file, { probabilities: o.probabilities });
  const session = await ort!.InferenceSession.create(file);
  t.same(session.inputNames, ['input'], 'one input named input');
  t.same(session.outputNames, ['output'], 'one output named output');
  for (const batch of [2, 3]) {
    const x = Tensor.randn([batch, ...m.inputShape], { seed: (o.seed ?? 1) + batch });
    const want = await ours(m, x, o.probabilities);
    const xs = (await x.data()) as Float32Array;
    const r = await session.run({ input: new ort!.Tensor('float32', xs, [batch, ...m.inputShape]) });
    const got = r.output.data as Float32Array;
    t.same(r.output.dims, [batch, want.length / batch], `batch ${batch}: output dims`);
    const scale = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    t.equal(
      mismatch(got, want, { rtol: 0, atol: 1e-4 * scale + 1e-5 }),
      null,
      `${m.name} batch ${batch}: onnxruntime matches (max |y| ${scale.toPrecision(3)})`,
    );
    x.dispose();
  }
  await session.release();
}

t.test(
  'exported models run in onnxruntime-node and match our outputs',
  { skip: ort ? false : `onnxruntime-node is not loadable here: ${why}` },
  async (t) => {
    const dir = t.testdir();
    const models: [string, Model, boolean][] = [
      ['lenet5-modern', lenet5({ seed: 1 }), false],
      ['lenet5-modern-tanh-avg', lenet5({ seed: 2, activation: 'tanh', pooling: 'avg' }), false],
      ['lenet5-classic', lenet5({ variant: 'classic', seed: 3 }), false],
      ['lenet5-classic-probs', lenet5({ variant: 'classic', seed: 3 }), true],
      ['alexnet-paper', alexnet({ fcWidth: 16, numClasses: 7, seed: 4 }), false],
      ['alexnet-paper-per-size', alexnet({ fcWidth: 16, numClasses: 7, seed: 5, lrnConvention: 'per-size' }), false],
      ['alexnet-owt', alexnet({ variant: 'owt', fcWidth: 16, numClasses: 7, seed: 6 }), false],
      [
        'custom',
        sequentialModel(
          [
            { kind: 'conv2d', name: 'a', inChannels: 2, outChannels: 4, kernelSize: 3, padding: 2, groups: 2, dilation: 2, bias: false },
            { kind: 'sigmoid', name: 'a.act' },
            { kind: 'maxpool2d', name: 'p', kernelSize: 3, stride: 2, padding: 1, ceilMode: true },
            { kind: 'lrn', name: 'n', size: 3, alpha: 0.5, beta: 0.75, k: 1, alphaConvention: 'literal' },
            { kind: 'avgpool2d', name: 'q', kernelSize: 2, stride: 1, padding: 1, countIncludePad: false },
            { kind: 'flatten', name: 'f' },
            { kind: 'dropout', name: 'd', p: 0.4, mode: 'paper' },
            { kind: 'linear', name: 'l', inFeatures: 4 * 6 * 6, outFeatures: 5 },
          ],
          { inputShape: [2, 9, 9], name: 'custom', seed: 7 },
        ),
        false,
      ],
    ];
    for (const [name, m, probabilities] of models) {
      await t.test(name, (t) => check(t, m, join(dir, `${name}.onnx`), { probabilities }));
      m.dispose();
    }
  },
);

t.test('the file is ONNX opset 13 with a symbolic batch axis and named initializers', async (t) => {
  const dir = t.testdir();
  const m = lenet5({ variant: 'classic', seed: 3 });
  const file = join(dir, 'lenet.onnx');
  await m.exportOnnx(file);
  const decoded = ModelProto.toObject(ModelProto.decode(await readFile(file)), { longs: Number }) as {
    opsetImport: { version: number }[];
    graph: {
      input: { type: { tensorType: { shape: { dim: { dimParam?: string; dimValue?: number }[] } } } }[];
      initializer: { name: string }[];
      node: { opType: string }[];
    };
  };
  t.equal(decoded.opsetImport[0].version, ONNX_OPSET);
  t.ok(ONNX_OPSET >= 13);
  t.same(decoded.graph.input[0].type.tensorType.shape.dim, [{ dimParam: 'N' }, { dimValue: 1 }, { dimValue: 32 }, { dimValue: 32 }]);
  const names = decoded.graph.initializer.map((i) => i.name);
  for (const p of m.parameters())
    t.ok(
      names.includes(p.name) || names.includes(`${p.name}.as_depthwise_weight`) || p.name.endsWith('.coef'),
      `initializer for ${p.name}`,
    );
  t.ok(
    decoded.graph.node.some((n) => n.opType === 'ReduceSum'),
    'the RBF output is decomposed',
  );
  m.dispose();
});

t.test('layers without an exact ONNX form are refused with a coded error', async (t) => {
  const dir = t.testdir();
  const layers: Layer[] = [new LocalResponseNorm({ name: 'even', size: 4, alphaConvention: 'per-size' })];
  const m = new Model('even-lrn', new Sequential(layers), [4, 2, 2], 'softmax-cross-entropy', {});
  await t.rejects(m.exportOnnx(join(dir, 'x.onnx')), { code: 'ND_ARG', message: /even size 4/ });
  await t.rejects(m.exportOnnx(''), { code: 'ND_ARG' });
  m.dispose();
});
