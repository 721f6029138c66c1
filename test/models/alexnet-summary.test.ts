// AlexNet's shapes and parameter counts, derived here from the layer table (REFERENCE.md), not
// copied from the model: a wrong kernel, stride, padding or group count changes them.
import t from 'tap';
import { alexnet } from '../../lib/models/index.js';

interface ConvSpec {
  name: string;
  inC: number;
  outC: number;
  k: number;
  s: number;
  p: number;
  g: number;
}

function convParams(c: ConvSpec): number {
  return c.outC * (c.inC / c.g) * c.k * c.k + c.outC;
}
const out = (n: number, k: number, s: number, p: number) => Math.floor((n + 2 * p - k) / s) + 1;

/** Rows [layer, output size, parameters] walked from the spec, pools after the listed convs. */
function expectedRows(input: number, convs: ConvSpec[], poolAfter: string[], fc: number[]): Array<[string, string, number]> {
  const rows: Array<[string, string, number]> = [];
  let side = input;
  let ch = 3;
  for (const c of convs) {
    side = out(side, c.k, c.s, c.p);
    ch = c.outC;
    rows.push([c.name, `${side}x${side}x${ch}`, convParams(c)]);
    if (poolAfter.includes(c.name)) {
      side = out(side, 3, 2, 0);
      rows.push([`pool${c.name.slice(4)}`, `${side}x${side}x${ch}`, 0]);
    }
  }
  let inF = side * side * ch;
  // Flatten folds into the row before it (summary.ts), so pool5's row shows the flat size.
  rows[rows.length - 1][1] = String(inF);
  fc.forEach((w, i) => {
    rows.push([`fc${6 + i}`, String(w), inF * w + w]);
    inF = w;
  });
  return rows;
}

const PAPER: ConvSpec[] = [
  { name: 'conv1', inC: 3, outC: 96, k: 11, s: 4, p: 0, g: 1 },
  { name: 'conv2', inC: 96, outC: 256, k: 5, s: 1, p: 2, g: 2 },
  { name: 'conv3', inC: 256, outC: 384, k: 3, s: 1, p: 1, g: 1 },
  { name: 'conv4', inC: 384, outC: 384, k: 3, s: 1, p: 1, g: 2 },
  { name: 'conv5', inC: 384, outC: 256, k: 3, s: 1, p: 1, g: 2 },
];
const OWT: ConvSpec[] = [
  { name: 'conv1', inC: 3, outC: 64, k: 11, s: 4, p: 2, g: 1 },
  { name: 'conv2', inC: 64, outC: 192, k: 5, s: 1, p: 2, g: 1 },
  { name: 'conv3', inC: 192, outC: 384, k: 3, s: 1, p: 1, g: 1 },
  { name: 'conv4', inC: 384, outC: 256, k: 3, s: 1, p: 1, g: 1 },
  { name: 'conv5', inC: 256, outC: 256, k: 3, s: 1, p: 1, g: 1 },
];

t.test('paper AlexNet: summary rows, 60,965,224 parameters, about 650k neurons', async (t) => {
  const m = alexnet({ seed: 1 });
  const s = m.summary();
  const want = expectedRows(227, PAPER, ['conv1', 'conv2', 'conv5'], [4096, 4096, 1000]);
  t.same(
    s.rows.map((r) => [r.layer, r.outputSize, r.parameters]),
    want,
  );
  t.same(s.rows.map((r) => r.outputSize).slice(0, 3), ['55x55x96', '27x27x96', '27x27x256'], "the paper's first maps");
  t.equal(s.rows.find((r) => r.layer === 'pool5')!.outputSize, '9216', 'pool5 flattened: 6x6x256 = 9216 inputs to fc6');
  t.same(m.net.layers.find((l) => l.name === 'pool5')!.outputShape([256, 13, 13]), [256, 6, 6]);
  const total = want.reduce((a, r) => a + r[2], 0);
  t.equal(total, 60965224, 'the layer table gives 60,965,224');
  t.equal(s.totals.parameters, total);
  t.equal(
    m.parameters().reduce((a, p) => a + p.value.size, 0),
    total,
    'the parameter tensors agree',
  );
  // Neurons of the conv and fc layers (the paper's "650,000 neurons")
  const neurons = s.rows.filter((r) => !r.layer.startsWith('pool')).reduce((a, r) => a + r.neurons, 0);
  t.equal(neurons, 55 * 55 * 96 + 27 * 27 * 256 + 13 * 13 * 384 * 2 + 13 * 13 * 256 + 4096 * 2 + 1000);
  t.ok(neurons > 640000 && neurons < 670000, `${neurons} neurons`);
  t.equal(s.rows[0].inputSize, '227x227x3');
  t.equal(s.rows[0].kernelSize, '11x11x96');
  t.equal(s.rows[0].stride, 4);
  t.equal(s.rows[0].receptiveField, 11);
  t.equal(s.rows[1].receptiveField, 11 + 2 * 4, 'pool1 sees 19 pixels');
  t.same(
    m.parameters().map((p) => p.name),
    ['conv1', 'conv2', 'conv3', 'conv4', 'conv5', 'fc6', 'fc7', 'fc8'].flatMap((n) => [`${n}.weight`, `${n}.bias`]),
  );
  t.same(m.parameters().find((p) => p.name === 'conv2.weight')!.value.shape, [256, 48, 5, 5], 'conv2 sees its own tower: 48 input maps');
  t.match(m.toString(), /alpha=0\.0001 \(literal\)/);
  t.match(s.text, /total .*60,965,224/);
  m.dispose();
});

t.test('one-weird-trick AlexNet (torchvision): 224 input, 61,100,840 parameters', async (t) => {
  const m = alexnet({ variant: 'owt', seed: 1 });
  const s = m.summary();
  const want = expectedRows(224, OWT, ['conv1', 'conv2', 'conv5'], [4096, 4096, 1000]);
  t.same(
    s.rows.map((r) => [r.layer, r.outputSize, r.parameters]),
    want,
  );
  t.same(m.net.outputShape([3, 224, 224]), [1000]);
  t.same(
    m.net.layers.find((l) => l.name === 'pool5')!.outputShape([256, 13, 13]),
    [256, 6, 6],
    'adaptive 6x6 average pooling would be the identity',
  );
  t.equal(s.totals.parameters, 61100840);
  t.notMatch(m.toString(), /LocalResponseNorm|groups/);
  t.same(m.inputShape, [3, 224, 224]);
  m.dispose();
});

t.test('paper initialisation: N(0, 0.01^2) weights; biases 1 / 0.1 / 0 as the paper and Caffe', async (t) => {
  for (const [biasInit, one] of [
    ['paper', 1],
    ['caffe', 0.1],
  ] as const) {
    const m = alexnet({ seed: 3, biasInit, numClasses: 10, fcWidth: 32 });
    for (const p of m.parameters()) {
      const v = (await p.value.data()) as Float32Array;
      if (p.name.endsWith('.bias')) {
        const expect = ['conv2', 'conv4', 'conv5', 'fc6', 'fc7'].includes(p.name.split('.')[0]) ? one : 0;
        t.ok(
          v.every((b) => Math.abs(b - expect) < 1e-7),
          `${biasInit}: ${p.name} = ${expect}`,
        );
      } else if (v.length > 10000) {
        let s = 0;
        let s2 = 0;
        for (const w of v) {
          s += w;
          s2 += w * w;
        }
        const mean = s / v.length;
        const std = Math.sqrt(s2 / v.length - mean * mean);
        t.ok(
          Math.abs(mean) < 5e-4 && Math.abs(std - 0.01) < 5e-4,
          `${biasInit}: ${p.name} mean ${mean.toExponential(2)}, std ${std.toFixed(5)}`,
        );
      }
    }
    m.dispose();
  }
});

t.test('options: dropout 0 leaves the dropout layers out; bad options are ND_ARG', async (t) => {
  const small = { numClasses: 10, fcWidth: 16 };
  const withDrop = alexnet({ ...small, variant: 'owt' });
  t.match(withDrop.toString(), /drop6.*p=0\.5[\s\S]*drop7/);
  withDrop.dispose();
  const noDrop = alexnet({ ...small, dropout: 0 });
  t.notMatch(noDrop.toString(), /Dropout/);
  noDrop.dispose();
  t.throws(() => alexnet({ variant: 'vgg' as 'paper' }), { code: 'ND_ARG' });
  t.throws(() => alexnet({ numClasses: 0 }), { code: 'ND_ARG' });
  t.throws(() => alexnet({ dropout: 1 }), { code: 'ND_ARG' });
  t.throws(() => alexnet({ lrnConvention: 'alpha/n' as 'literal' }), { code: 'ND_ARG', message: /literal/ });
  const perSize = alexnet({ ...small, lrnConvention: 'per-size' });
  t.match(perSize.toString(), /alpha=0\.0001 \(per-size\)/);
  perSize.dispose();
});
