import t from 'tap';
import { Tensor, ops } from '../../lib/index.js';
import { mismatch } from '../helpers/compare.js';
import { eachBackend, tolFor } from '../helpers/each-backend.js';
import { f32, randomArray } from '../helpers/rng.js';

interface Hyper {
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov?: boolean;
}

/** torch.optim.SGD's step (dampening 0, buffer starting at zero), in float64. */
function pytorchStep64(w: Float64Array, g: ArrayLike<number>, v: Float64Array, h: Hyper): void {
  for (let i = 0; i < w.length; i++) {
    const d = g[i] + h.weightDecay * w[i];
    if (h.momentum === 0) {
      w[i] -= h.lr * d;
      continue;
    }
    v[i] = h.momentum * v[i] + d;
    w[i] -= h.lr * (h.nesterov ? d + h.momentum * v[i] : v[i]);
  }
}

/** The AlexNet paper's update, in float64. */
function paperStep64(w: Float64Array, g: ArrayLike<number>, v: Float64Array, h: Hyper): void {
  for (let i = 0; i < w.length; i++) {
    v[i] = h.momentum * v[i] - h.weightDecay * h.lr * w[i] - h.lr * g[i];
    w[i] += v[i];
  }
}

/**
 * torch.optim.SGD's _single_tensor_sgd written out with float32 rounding after every operation,
 * as torch does it on float32 parameters:
 *   d_p = grad.add(param, alpha=wd); buf.mul_(mu).add_(d_p); d_p = d_p.add(buf, alpha=mu) if
 *   nesterov else buf; param.add_(d_p, alpha=-lr)
 */
function torchRuleF32(w: Float32Array, g: Float32Array, buf: Float32Array, h: Hyper, first: boolean): void {
  const fr = Math.fround;
  const wd = fr(h.weightDecay);
  const mu = fr(h.momentum);
  const lr = fr(h.lr);
  for (let i = 0; i < w.length; i++) {
    let d = fr(g[i] + fr(wd * w[i]));
    if (mu !== 0) {
      buf[i] = first ? d : fr(fr(mu * buf[i]) + d);
      d = h.nesterov ? fr(d + fr(mu * buf[i])) : buf[i];
    }
    w[i] = fr(w[i] - fr(lr * d));
  }
}

const sizes = [1, 37, 70001];

for (const form of ['pytorch', 'paper'] as const) {
  const variants: Hyper[] =
    form === 'pytorch'
      ? [
          { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
          { lr: 0.1, momentum: 0.9, weightDecay: 1e-2, nesterov: true },
          { lr: 0.05, momentum: 0, weightDecay: 1e-3 },
        ]
      : [
          { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
          { lr: 0.03, momentum: 0, weightDecay: 1e-2 },
        ];
  eachBackend(t, `${form}: several steps match a float64 reference`, { families: [], cuda: true }, async (t, be) => {
    let seed = form === 'pytorch' ? 1 : 500;
    for (const h of variants)
      for (const n of sizes) {
        const w0 = f32(randomArray(n, seed++));
        const wRef = Float64Array.from(w0);
        const vRef = new Float64Array(n);
        const w = Tensor.fromArray(w0, undefined, { device: be.device });
        const v = Tensor.zeros([n], { device: be.device });
        for (let step = 0; step < 6; step++) {
          const gv = f32(randomArray(n, seed++, -2, 2));
          const g = Tensor.fromArray(gv, undefined, { device: be.device });
          t.equal(ops.sgdStep(w, g, v, { ...h, form }), w);
          (form === 'pytorch' ? pytorchStep64 : paperStep64)(wRef, gv, vRef, h);
          g.dispose();
        }
        const label = `${JSON.stringify(h)} n=${n}`;
        t.equal(mismatch(await w.data(), wRef, tolFor(be, { rtol: 1e-5, atol: 1e-6 }, 'elementwise')), null, `w ${label}`);
        // PyTorch form without momentum leaves v alone
        const vExpected = form === 'pytorch' && h.momentum === 0 ? new Float64Array(n) : vRef;
        t.equal(mismatch(await v.data(), vExpected, tolFor(be, { rtol: 1e-5, atol: 1e-6 }, 'elementwise')), null, `v ${label}`);
        w.dispose();
        v.dispose();
      }
  });
}

eachBackend(t, "pytorch form follows torch.optim.SGD's rule step for step in float32", { families: [], cuda: true }, async (t, be) => {
  for (const h of [
    { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
    { lr: 0.2, momentum: 0.5, weightDecay: 0.01, nesterov: true },
    { lr: 0.1, momentum: 0, weightDecay: 0.1 },
  ]) {
    const n = 333;
    const w32 = Float32Array.from(randomArray(n, 900, -1, 1));
    const buf = new Float32Array(n);
    const w = Tensor.fromArray(w32, undefined, { device: be.device });
    const v = Tensor.zeros([n], { device: be.device });
    for (let step = 0; step < 8; step++) {
      const g32 = Float32Array.from(randomArray(n, 901 + step, -1, 1));
      const g = Tensor.fromArray(g32, undefined, { device: be.device });
      ops.sgdStep(w, g, v, { ...h, form: 'pytorch' });
      torchRuleF32(w32, g32, buf, h, step === 0);
      g.dispose();
    }
    // Tight: only rounding (FMA or not) may differ from the written-out rule.
    t.equal(mismatch(await w.data(), w32, tolFor(be, { rtol: 1e-6, atol: 1e-7 }, 'elementwise')), null, `w ${JSON.stringify(h)}`);
    w.dispose();
    v.dispose();
  }
});

t.test('with a constant lr the two forms give the same weights; when lr changes they differ as written', async (t) => {
  const n = 101;
  const w0 = f32(randomArray(n, 1000));
  const wa = Tensor.fromArray(w0);
  const wb = Tensor.fromArray(w0);
  const va = Tensor.zeros([n]);
  const vb = Tensor.zeros([n]);
  const h = { lr: 0.05, momentum: 0.9, weightDecay: 1e-3 };
  const grads: Float64Array[] = [];
  for (let s = 0; s < 5; s++) {
    grads.push(f32(randomArray(n, 1001 + s)));
    const g = Tensor.fromArray(grads[s]);
    ops.sgdStep(wa, g, va, { ...h, form: 'pytorch' });
    ops.sgdStep(wb, g, vb, { ...h, form: 'paper' });
    g.dispose();
  }
  t.equal(mismatch(await wb.data(), await wa.data(), { rtol: 1e-5, atol: 1e-6 }), null, 'same weights');
  t.equal(
    mismatch(
      await vb.data(),
      Array.from(await va.data(), (x) => -h.lr * x),
      { rtol: 1e-5, atol: 1e-7 },
    ),
    null,
    'paper v = -lr * pytorch v',
  );
  // A learning-rate drop (AlexNet divides by 10): the references diverge and each kernel follows its own.
  const refA = { w: Float64Array.from(await wa.data()), v: Float64Array.from(await va.data()) };
  const refB = { w: Float64Array.from(await wb.data()), v: Float64Array.from(await vb.data()) };
  const low = { ...h, lr: 0.005 };
  for (let s = 0; s < 3; s++) {
    const gv = f32(randomArray(n, 2000 + s));
    const g = Tensor.fromArray(gv);
    ops.sgdStep(wa, g, va, { ...low, form: 'pytorch' });
    ops.sgdStep(wb, g, vb, { ...low, form: 'paper' });
    pytorchStep64(refA.w, gv, refA.v, low);
    paperStep64(refB.w, gv, refB.v, low);
    g.dispose();
  }
  t.equal(mismatch(await wa.data(), refA.w, { rtol: 1e-5, atol: 1e-6 }), null, 'pytorch after the drop');
  t.equal(mismatch(await wb.data(), refB.w, { rtol: 1e-5, atol: 1e-6 }), null, 'paper after the drop');
  t.not(mismatch(refA.w, refB.w, { rtol: 1e-6, atol: 1e-6 }), null, 'the two rules really differ after an lr change');
  for (const x of [wa, wb, va, vb]) x.dispose();
});

t.test('momentum 0 needs no velocity tensor', async (t) => {
  const w0 = f32(randomArray(9, 3000));
  const gv = f32(randomArray(9, 3001));
  for (const form of ['pytorch', 'paper'] as const) {
    const w = Tensor.fromArray(w0);
    const g = Tensor.fromArray(gv);
    ops.sgdStep(w, g, null, { lr: 0.1, weightDecay: 0.01, form });
    const ref = Float64Array.from(w0, (x, i) => x - 0.1 * (gv[i] + 0.01 * x));
    t.equal(mismatch(await w.data(), ref, { rtol: 1e-6, atol: 1e-7 }), null, form);
    w.dispose();
    g.dispose();
  }
});

t.test('bad inputs', async (t) => {
  const w = Tensor.zeros([3, 4]);
  const g = Tensor.zeros([4, 3]);
  const g2 = Tensor.zeros([3, 4]);
  const v = Tensor.zeros([12]);
  const v2 = Tensor.zeros([3, 4]);
  const wi = Tensor.zeros([3, 4], { dtype: 'int32' });
  t.throws(() => ops.sgdStep(w, g, v2, { lr: 0.1 }), { code: 'ND_SHAPE', message: /sgdStep: 'w' \[3, 4\] and 'g' \[4, 3\]/ });
  t.throws(() => ops.sgdStep(w, g2, v, { lr: 0.1 }), { code: 'ND_SHAPE', message: /sgdStep: 'w' \[3, 4\] and 'v' \[12\]/ });
  t.throws(() => ops.sgdStep(w, g2, null, { lr: 0.1, momentum: 0.9 }), { code: 'ND_ARG', message: /needs a velocity tensor 'v'/ });
  t.throws(() => ops.sgdStep(w, g2, v2, { lr: 0.1, momentum: 0.9, form: 'paper', nesterov: true }), {
    code: 'ND_ARG',
    message: /'nesterov'/,
  });
  t.throws(() => ops.sgdStep(w, g2, v2, { lr: -1 }), { code: 'ND_ARG', message: /sgdStep: 'lr' must be >= 0/ });
  t.throws(() => ops.sgdStep(w, g2, v2, { lr: NaN }), { code: 'ND_ARG', message: /sgdStep: 'lr'/ });
  t.throws(() => ops.sgdStep(w, g2, v2, { lr: 0.1, form: 'adam' as 'paper' }), { code: 'ND_ARG', message: /'form'/ });
  t.throws(() => ops.sgdStep(wi, g2, v2, { lr: 0.1 }), { code: 'ND_ARG', message: /sgdStep: 'w' must be float32/ });
  t.throws(() => ops.sgdStep(w, w, v2, { lr: 0.1 }), { code: 'ND_ARG', message: /distinct/ });
  t.throws(() => ops.sgdStep(w, g2, v2, undefined as unknown as { lr: number }), { code: 'ND_ARG' });
  for (const x of [w, g, g2, v, v2, wi]) x.dispose();
});
