// AlexNet (both forms) vs the same nets written with torch.nn (scripts/fixtures/alexnet.py).
// The weights and the batch are convkit's own seeded Tensor.randn draws, which the fixture script
// wrote through convkit's safetensors writer and read back in Python; the fixture records their
// sums of squares, so this test first proves it regenerated the very values torch used.
// Then logits, loss, every parameter's gradient and one SGD step must agree with torch (float64).
// Big tensors are compared through a sketch: the norm, +-1 projections and a seeded subset.
import t from 'tap';
import { Tensor } from '../../lib/index.js';
import { alexnet } from '../../lib/models/index.js';
import { SGD } from '../../lib/optim/sgd.js';
import { f32FromB64 } from '../helpers/b64.js';
import { loadFixture } from '../helpers/fixtures.js';

interface Sketch {
  norm: number;
  proj: number[];
  at: string;
}
interface ParamCase {
  shape: number[];
  seed: number;
  std: number;
  sumsq: number;
  idx?: number[];
  grad: string | Sketch;
  after: string | Sketch;
  delta: string | Sketch;
}
interface Case {
  variant: 'paper' | 'owt';
  fcWidth: number;
  numClasses: number;
  labels: number[];
  lr: number;
  x: { shape: number[]; seed: number; std: number; sumsq: number };
  projections: number;
  logits: number[];
  loss: number;
  params: Record<string, ParamCase>;
}

const TOL = 1e-4;

/** The fixture script's +-1 hash (projection_signs in alexnet.py). */
function sign(i: number, k: number): number {
  let h = (Math.imul(i, 0x9e3779b1) + Math.imul(k + 1, 0x85ebca6b)) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  h = (h ^ (h >>> 12)) >>> 0;
  return h & 1 ? 1 : -1;
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** ||a - b|| / ||b||. */
function relNorm(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += (a[i] - b[i]) ** 2;
  return Math.sqrt(d) / Math.max(norm(b), 1e-30);
}

/** The worst relative error of `a` against a whole tensor or a sketch of one. */
function compare(
  a: ArrayLike<number>,
  want: string | Sketch,
  idx: number[] | undefined,
  projections: number,
): { err: number; what: string } {
  if (typeof want === 'string') return { err: relNorm(a, f32FromB64(want)), what: 'whole' };
  const errs: Record<string, number> = {};
  errs.norm = Math.abs(norm(a) - want.norm) / want.norm;
  let proj = 0;
  for (let k = 0; k < projections; k++) {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += sign(i, k) * a[i];
    proj = Math.max(proj, Math.abs(s - want.proj[k]) / want.norm);
  }
  errs.projection = proj;
  errs.subset = relNorm(
    idx!.map((i) => a[i]),
    f32FromB64(want.at),
  );
  const [what, err] = Object.entries(errs).reduce((m, e) => (e[1] > m[1] ? e : m));
  return { err, what };
}

function sumsq(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return s;
}

const cases = loadFixture<{ cases: Case[] }>('alexnet').cases;

for (const c of cases) {
  t.test(`AlexNet '${c.variant}' matches torch.nn: logits, loss, every gradient, one SGD step`, async (t) => {
    const model = alexnet({ variant: c.variant, numClasses: c.numClasses, fcWidth: c.fcWidth, dropout: 0, seed: 0 });
    const names = model.parameters().map((p) => p.name);
    t.same(names, Object.keys(c.params), "parameter names and order are torch's (mapped)");

    // The same seeded draws as the fixture script made through convkit -> safetensors -> torch.
    const state: Record<string, { shape: number[]; data: Float32Array }> = {};
    let worstSeed = 0;
    for (const [name, p] of Object.entries(c.params)) {
      const r = Tensor.randn(p.shape, { seed: p.seed, std: p.std });
      state[name] = { shape: p.shape, data: (await r.data()) as Float32Array };
      r.dispose();
      worstSeed = Math.max(worstSeed, Math.abs(sumsq(state[name].data) - p.sumsq) / p.sumsq);
    }
    t.ok(worstSeed < 1e-9, `the regenerated weights are the ones torch read (sum of squares within ${worstSeed.toExponential(1)})`);
    model.loadStateDict(state);
    const xr = Tensor.randn(c.x.shape, { seed: c.x.seed, std: c.x.std });
    const xs = (await xr.data()) as Float32Array;
    t.ok(Math.abs(sumsq(xs) - c.x.sumsq) / c.x.sumsq < 1e-9, 'the regenerated batch is the one torch read');
    const x = xr;
    const labels = Tensor.fromArray(Int32Array.from(c.labels));

    model.eval();
    const out = model.net.forward(x);
    const logitErr = relNorm(await out.data(), c.logits);
    out.dispose();
    t.ok(logitErr < TOL, `logits: relative error ${logitErr.toExponential(2)}`);

    const { loss, correct } = model.trainStep(x, labels);
    const l = (await loss.data())[0];
    loss.dispose();
    correct.dispose();
    t.ok(Math.abs(l - c.loss) / c.loss < TOL, `loss ${l} vs torch ${c.loss}`);

    let worstGrad = { err: 0, at: '' };
    for (const p of model.parameters()) {
      const want = c.params[p.name];
      const r = compare(await p.grad!.data(), want.grad, want.idx, c.projections);
      if (r.err > worstGrad.err) worstGrad = { err: r.err, at: `${p.name} (${r.what})` };
      t.ok(r.err < TOL, `grad ${p.name}: ${r.err.toExponential(2)} (${r.what})`);
    }
    t.comment(`${c.variant}: worst gradient error ${worstGrad.err.toExponential(2)} at ${worstGrad.at}`);

    const opt = new SGD(model.parameters(), { lr: c.lr, momentum: 0.9, weightDecay: 5e-4, decayAll: true });
    opt.step();
    for (const p of model.parameters()) {
      const want = c.params[p.name];
      const after = (await p.value.data()) as Float32Array;
      const a = compare(after, want.after, want.idx, c.projections);
      t.ok(a.err < TOL, `after the step ${p.name}: ${a.err.toExponential(2)} (${a.what})`);
      // The update itself, so that a step that changes nothing cannot pass.
      const before = state[p.name].data;
      const delta = after.map((v, i) => v - before[i]);
      const d = compare(delta, want.delta, want.idx, c.projections);
      // float32 rounding of w (about 6e-8 |w|) bounds how well a small update can be seen.
      t.ok(d.err < TOL, `update ${p.name}: ${d.err.toExponential(2)} (${d.what})`);
    }
    opt.dispose();

    if (c.variant === 'paper') {
      // The fixture's LRN is strong enough that reading alpha as alpha/n shows in the logits.
      const perSize = alexnet({ variant: 'paper', numClasses: c.numClasses, fcWidth: c.fcWidth, dropout: 0, lrnConvention: 'per-size' });
      perSize.loadStateDict(state);
      perSize.eval();
      const o = perSize.net.forward(x);
      const e = relNorm(await o.data(), c.logits);
      o.dispose();
      t.ok(e > 100 * TOL, `the 'per-size' convention gives other logits (relative difference ${e.toExponential(2)})`);
      perSize.dispose();
    }
    x.dispose();
    labels.dispose();
    model.dispose();
  });
}
