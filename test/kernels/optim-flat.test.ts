// ops.sgdFlat: one fused SGD pass over flat buffers with a segment table. Checked against a
// float64 reference per segment, against the per-parameter ops.sgdStep (the same bits), with
// noDecay segments and the padding between segments left untouched.
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
  form: 'pytorch' | 'paper';
}

const hypers: Hyper[] = [
  { form: 'pytorch', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
  { form: 'pytorch', lr: 0.1, momentum: 0.9, weightDecay: 1e-2, nesterov: true },
  { form: 'pytorch', lr: 0.05, momentum: 0, weightDecay: 1e-3 },
  { form: 'paper', lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
  { form: 'paper', lr: 0.03, momentum: 0, weightDecay: 1e-2 },
];

/** Three parameters at 16-aligned offsets with padding between (sizes straddle the pool's grain). */
const layout: ops.SgdSegment[] = [
  { offset: 0, size: 37, decay: true },
  { offset: 48, size: 5, decay: false },
  { offset: 64, size: 70001, decay: true },
];
const N = 64 + 70001 + 15; // padding after the last one too

function step64(w: Float64Array, g: ArrayLike<number>, v: Float64Array, h: Hyper, lo: number, hi: number, wd: number): void {
  for (let i = lo; i < hi; i++) {
    if (h.form === 'paper') {
      const vi = h.momentum * v[i] - wd * h.lr * w[i] - h.lr * g[i];
      if (h.momentum !== 0) v[i] = vi;
      w[i] += vi;
      continue;
    }
    const d = g[i] + wd * w[i];
    if (h.momentum === 0) {
      w[i] -= h.lr * d;
      continue;
    }
    v[i] = h.momentum * v[i] + d;
    w[i] -= h.lr * (h.nesterov ? d + h.momentum * v[i] : v[i]);
  }
}

const inPadding = (i: number) => !layout.some((s) => i >= s.offset && i < s.offset + s.size);

eachBackend(
  t,
  'sgdFlat matches a float64 reference per segment and leaves the padding alone',
  { families: [], cuda: true },
  async (t, be) => {
    let seed = 40;
    for (const h of hypers) {
      const w0 = f32(randomArray(N, seed++));
      const wRef = Float64Array.from(w0);
      const vRef = new Float64Array(N);
      const w = Tensor.fromArray(w0, undefined, { device: be.device });
      const v = h.momentum > 0 ? Tensor.zeros([N], { device: be.device }) : null;
      const segments = ops.sgdSegments(layout, N);
      for (let s = 0; s < 4; s++) {
        const gv = f32(randomArray(N, seed++, -2, 2));
        const g = Tensor.fromArray(gv, undefined, { device: be.device });
        t.equal(ops.sgdFlat(w, g, v, segments, h), w);
        for (const seg of layout) step64(wRef, gv, vRef, h, seg.offset, seg.offset + seg.size, seg.decay ? h.weightDecay : 0);
        g.dispose();
      }
      const got = await w.data();
      const label = JSON.stringify(h);
      t.equal(mismatch(got, wRef, tolFor(be, { rtol: 1e-5, atol: 1e-6 }, 'elementwise')), null, `w ${label}`);
      const pad = [...got.keys()].filter(inPadding);
      t.ok(pad.length > 0 && pad.every((i) => Object.is(got[i], w0[i])), `padding of w untouched (${pad.length} elements) ${label}`);
      if (v) {
        const vg = await v.data();
        t.equal(mismatch(vg, vRef, tolFor(be, { rtol: 1e-5, atol: 1e-6 }, 'elementwise')), null, `v ${label}`);
        t.ok(
          pad.every((i) => vg[i] === 0),
          `padding of v untouched ${label}`,
        );
      }
      w.dispose();
      v?.dispose();
    }
  },
);

eachBackend(t, 'sgdFlat gives the same bits as one sgdStep per parameter', { families: [], cuda: true }, async (t, be) => {
  let seed = 700;
  for (const h of hypers) {
    const w0 = f32(randomArray(N, seed++));
    const flatW = Tensor.fromArray(w0, undefined, { device: be.device });
    const flatV = Tensor.zeros([N], { device: be.device });
    const parts = layout.map((s) => ({
      w: Tensor.fromArray(w0.subarray(s.offset, s.offset + s.size), undefined, { device: be.device }),
      v: Tensor.zeros([s.size], { device: be.device }),
    }));
    const segments = ops.sgdSegments(layout, N);
    for (let s = 0; s < 3; s++) {
      const gv = f32(randomArray(N, seed++, -2, 2));
      const g = Tensor.fromArray(gv, undefined, { device: be.device });
      ops.sgdFlat(flatW, g, flatV, segments, h);
      for (const [i, seg] of layout.entries()) {
        const gi = Tensor.fromArray(gv.subarray(seg.offset, seg.offset + seg.size), undefined, { device: be.device });
        ops.sgdStep(parts[i].w, gi, parts[i].v, { ...h, weightDecay: seg.decay ? h.weightDecay : 0 });
        gi.dispose();
      }
      g.dispose();
    }
    const fw = await flatW.data();
    const fv = await flatV.data();
    for (const [i, seg] of layout.entries()) {
      const pw = await parts[i].w.data();
      const pv = await parts[i].v.data();
      t.equal(
        mismatch(fw.subarray(seg.offset, seg.offset + seg.size), pw, { rtol: 0, atol: 0 }),
        null,
        `w segment ${i} ${JSON.stringify(h)}`,
      );
      t.equal(mismatch(fv.subarray(seg.offset, seg.offset + seg.size), pv, { rtol: 0, atol: 0 }), null, `v segment ${i}`);
      parts[i].w.dispose();
      parts[i].v.dispose();
    }
    flatW.dispose();
    flatV.dispose();
  }
});

t.test('sgdSegments and sgdFlat refuse bad tables and buffers with coded errors', async (t) => {
  t.throws(
    () =>
      ops.sgdSegments(
        [
          { offset: 0, size: 10, decay: true },
          { offset: 8, size: 4, decay: true },
        ],
        32,
      ),
    { code: 'ND_ARG', message: /sgdSegments: segment 1 starts at 8, inside the previous one \(which ends at 10\)/ },
  );
  t.throws(() => ops.sgdSegments([{ offset: 30, size: 4, decay: false }], 32), {
    code: 'ND_SHAPE',
    message: /sgdSegments: segment 0 \[30, 34\) lies outside buffers of 32 elements/,
  });
  t.throws(() => ops.sgdSegments([{ offset: -1, size: 4, decay: false }], 32), { code: 'ND_ARG', message: /segments\[0\]\.offset/ });
  t.throws(() => ops.sgdSegments([{ offset: 0, size: 4, decay: 1 as unknown as boolean }], 32), { code: 'ND_ARG', message: /decay/ });
  const w = Tensor.zeros([32]);
  const g = Tensor.zeros([32]);
  const short = Tensor.zeros([16]);
  const other = Tensor.zeros([32], { device: 'cpu:1' });
  const segs = ops.sgdSegments([{ offset: 0, size: 16, decay: true }], 32);
  t.throws(() => ops.sgdFlat(w, short, null, segs, { lr: 0.1 }), { code: 'ND_SHAPE', message: /sgdFlat: 'w' \(32\), 'g' \(16\)/ });
  t.throws(() => ops.sgdFlat(w, other, null, segs, { lr: 0.1 }), {
    code: 'ND_ARG',
    message: /sgdFlat: 'g' is on cpu:1 but 'w' is on cpu:0/,
  });
  t.throws(() => ops.sgdFlat(w, g, null, ops.sgdSegments([], 16), { lr: 0.1 }), {
    code: 'ND_SHAPE',
    message: /'segments' were made for buffers of 16 elements but 'w' holds 32/,
  });
  t.throws(() => ops.sgdFlat(w, g, null, segs, { lr: 0.1, momentum: 0.9 }), { code: 'ND_ARG', message: /needs a velocity tensor 'v'/ });
  t.throws(() => ops.sgdFlat(w, g, null, { length: 32, count: 1, packed: 'x' } as never, { lr: 0.1 }), {
    code: 'ND_ARG',
    message: /'segments' must come from sgdSegments/,
  });
  t.throws(() => ops.sgdFlat(w, w, null, segs, { lr: 0.1 }), { code: 'ND_ARG', message: /distinct/ });
  for (const x of [w, g, short, other]) x.dispose();
});
