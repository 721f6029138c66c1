import t from 'tap';
import {
  IMAGENET_MEAN,
  IMAGENET_PCA,
  lightingOffset,
  placement,
  tenCropPlacements,
  transformSpec,
  writeInput,
  type Placement,
  type TransformSpec,
} from '../../../lib/data/images/index.js';
import { rng } from '../../helpers/rng.js';

const SIDE = 256;

/** A random 256x256x3 image, so every pixel position is distinguishable. */
function randomImage(seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: SIDE * SIDE * 3 }, () => Math.floor(r() * 256));
}

/** float64 reference of one input: (src + lighting - mean) * scale, CHW, the mean image read at the source pixel. */
function reference(spec: TransformSpec, src: Uint8Array, p: Placement): Float64Array {
  const k = spec.crop;
  const out = new Float64Array(3 * k * k);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < k; y++)
      for (let x = 0; x < k; x++) {
        const sy = p.top + y;
        const sx = p.left + (p.flip ? k - 1 - x : x);
        const mean = spec.mean.length === 3 ? spec.mean[c]! : spec.mean[c * SIDE * SIDE + sy * SIDE + sx]!;
        out[(c * k + y) * k + x] = (src[(sy * SIDE + sx) * 3 + c]! + p.lighting[c]! - mean) * spec.scale[c]!;
      }
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function render(spec: TransformSpec, src: Uint8Array, p: Placement): Float32Array {
  const out = new Float32Array(3 * spec.crop * spec.crop + 5).fill(NaN);
  writeInput(spec, src, p, out, 5);
  return out.subarray(5);
}

/** Mirrors each row of a [3, k, k] input. */
function mirror(x: Float32Array, k: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < 3 * k; r++) for (let c = 0; c < k; c++) out[r * k + c] = x[r * k + k - 1 - c]!;
  return out;
}

/** Mirrors a 256x256x3 HWC image left to right. */
function mirrorImage(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length);
  for (let y = 0; y < SIDE; y++)
    for (let x = 0; x < SIDE; x++) for (let c = 0; c < 3; c++) out[(y * SIDE + x) * 3 + c] = src[(y * SIDE + SIDE - 1 - x) * 3 + c]!;
  return out;
}

t.test('writeInput matches the float64 reference for crops, flips, lighting, means and scales', async (t) => {
  const src = randomImage(1);
  const r = rng(2);
  const meanImage = Float32Array.from({ length: 3 * SIDE * SIDE }, () => 100 + 50 * r());
  const cases: { crop: number; mean?: readonly number[] | Float32Array | false; scale?: number | number[] }[] = [
    { crop: 227 },
    { crop: 224, mean: false },
    { crop: 224, mean: [10, 20, 30], scale: [1 / 58.4, 1 / 57.1, 1 / 57.4] },
    { crop: 227, mean: meanImage, scale: 0.5 },
    { crop: 1, mean: meanImage },
    { crop: 256, scale: 2 },
  ];
  for (const c of cases) {
    const spec = transformSpec('test', c, true, 5);
    for (const p of [
      placement(spec, 0, 3),
      placement(spec, 4, 9),
      { ...placement(spec, 1, 1), flip: true },
      { ...placement(spec, 1, 1), flip: false },
    ]) {
      const d = maxDiff(render(spec, src, p), reference(spec, src, p));
      t.ok(
        d < 1e-4,
        `crop ${c.crop}, mean ${c.mean instanceof Float32Array ? 'image' : String(c.mean)}, ${p.top},${p.left} flip ${p.flip}: max |error| ${d}`,
      );
    }
  }
  const spec = transformSpec('test', {}, false, 0);
  t.same(Array.from(spec.mean), Array.from(Float32Array.from(IMAGENET_MEAN)), "the default mean is ImageNet's [123.68, 116.78, 103.94]");
  t.equal(spec.pca, null, 'no lighting at test time');
  const x = render(spec, src, placement(spec, 0, 0));
  t.equal(x[0], Math.fround(src[(14 * SIDE + 14) * 3]! - 123.68), 'the centre 227 crop starts at (14, 14); R minus 123.68');
  t.equal(x[227 * 227], Math.fround(src[(14 * SIDE + 14) * 3 + 1]! - 116.78), 'G minus 116.78');
  t.equal(x[2 * 227 * 227 + 227 + 1], Math.fround(src[(15 * SIDE + 15) * 3 + 2]! - 103.94), 'B minus 103.94');
});

t.test('flips: twice is the identity, and a flipped crop is the mirrored crop of the mirrored image', async (t) => {
  const src = randomImage(3);
  const flipped = mirrorImage(src);
  for (const crop of [227, 224]) {
    const spec = transformSpec('test', { crop }, true, 11);
    for (let i = 0; i < 6; i++) {
      const p = placement(spec, 2, i);
      const plain = render(spec, src, { ...p, flip: false });
      const flip = render(spec, src, { ...p, flip: true });
      t.equal(
        maxDiff(mirror(flip, crop), plain),
        0,
        `crop ${crop} at (${p.top}, ${p.left}): flipping the flipped crop gives the crop back`,
      );
      // Crop at `left` then flip == crop of the mirrored image at the mirrored position.
      const other = render(spec, flipped, { ...p, left: SIDE - crop - p.left, flip: false });
      t.equal(maxDiff(flip, other), 0, `crop ${crop} at (${p.top}, ${p.left}): a flipped crop is the crop of the flipped image`);
    }
  }
});

t.test('random crops cover every position, flips happen half the time, and both are seeded', async (t) => {
  for (const crop of [227, 224]) {
    const spec = transformSpec('test', { crop }, true, 7);
    const span = SIDE - crop + 1;
    const tops = new Array<number>(span).fill(0);
    const lefts = new Array<number>(span).fill(0);
    let flips = 0;
    const n = 6000;
    for (let i = 0; i < n; i++) {
      const p = placement(spec, 0, i);
      tops[p.top]!++;
      lefts[p.left]!++;
      if (p.flip) flips++;
    }
    const expect = n / span;
    t.ok(
      tops.every((c) => c > expect * 0.6 && c < expect * 1.4),
      `crop ${crop}: every top in [0, ${span - 1}] appears about ${expect.toFixed(0)} times (${Math.min(...tops)}..${Math.max(...tops)})`,
    );
    t.ok(
      lefts.every((c) => c > expect * 0.6 && c < expect * 1.4),
      `crop ${crop}: every left too (${Math.min(...lefts)}..${Math.max(...lefts)})`,
    );
    t.ok(Math.abs(flips / n - 0.5) < 0.03, `flip rate ${flips / n}`);
  }
  const a = transformSpec('test', {}, true, 7);
  const b = transformSpec('test', {}, true, 8);
  t.same(placement(a, 3, 17), placement(transformSpec('test', {}, true, 7), 3, 17), 'same seed, epoch and index: same placement');
  const differ = (f: (i: number) => [Placement, Placement]): number =>
    Array.from({ length: 50 }, (_, i) => f(i)).filter(([p, q]) => JSON.stringify(p) !== JSON.stringify(q)).length;
  t.ok(differ((i) => [placement(a, 3, i), placement(a, 4, i)]) >= 48, 'another epoch, other placements');
  t.ok(differ((i) => [placement(a, 3, i), placement(b, 3, i)]) >= 48, 'another seed, other placements');
  t.ok(differ((i) => [placement(a, 3, i), placement(a, 3, i + 1)]) >= 48, 'another image, other placements');
  const noLight = transformSpec('test', { pca: false }, true, 7);
  const p = placement(noLight, 3, 17);
  const q = placement(a, 3, 17);
  t.same([p.top, p.left, p.flip], [q.top, q.left, q.flip], 'turning lighting off keeps the crop and flip');
  t.same(p.lighting, [0, 0, 0]);
});

t.test('PCA lighting: the offset is 255 * sum alpha_i lambda_i p_i with alpha_i ~ N(0, 0.1)', async (t) => {
  const spec = transformSpec('test', {}, true, 21);
  const pca = spec.pca!;
  t.same(Array.from(pca.eigval), IMAGENET_PCA.eigval);
  t.equal(pca.alphaStd, 0.1);
  // The offset against a float64 reference; p_i is column i of eigvec.
  const alpha = [0.3, -1.2, 2];
  const want = [0, 1, 2].map(
    (c) => 255 * [0, 1, 2].reduce((s, i) => s + alpha[i]! * IMAGENET_PCA.eigval[i]! * IMAGENET_PCA.eigvec[c]![i]!, 0),
  );
  t.ok(maxDiff(lightingOffset(pca, alpha), want) < 1e-9, `offset ${lightingOffset(pca, alpha).join(', ')}`);
  t.ok(Math.abs(lightingOffset(pca, [1, 0, 0])[0] - 255 * 0.2175 * -0.5675) < 1e-9, 'alpha = e_1 moves R by 255 * lambda_1 * p_1[R]');

  // The alphas recovered from each placement's offset have mean 0 and std 0.1.
  const n = 8000;
  const sums = [0, 0, 0];
  const squares = [0, 0, 0];
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const p = placement(spec, 1, i);
    // eigvec is orthonormal: alpha_i = (p_i . offset / 255) / lambda_i.
    for (let k = 0; k < 3; k++) {
      let dot = 0;
      for (let c = 0; c < 3; c++) dot += IMAGENET_PCA.eigvec[c]![k]! * p.lighting[c]!;
      const a = dot / 255 / IMAGENET_PCA.eigval[k]!;
      worst = Math.max(worst, Math.abs(a - p.alpha[k]!));
      sums[k]! += p.alpha[k]!;
      squares[k]! += p.alpha[k]! ** 2;
    }
  }
  t.ok(worst < 2e-3, `the offsets are the eigen-combination of the drawn alphas (max |error| ${worst})`);
  for (let k = 0; k < 3; k++) {
    const mean = sums[k]! / n;
    const std = Math.sqrt(squares[k]! / n - mean * mean);
    t.ok(Math.abs(mean) < 0.006 && Math.abs(std - 0.1) < 0.005, `alpha_${k}: mean ${mean.toFixed(4)}, std ${std.toFixed(4)}`);
  }
  // Magnitude in pixel units: R's offset std is 255 * 0.1 * sqrt(sum_i (lambda_i p_i[R])^2), about 3.2 levels.
  const rStd = Math.sqrt(Array.from({ length: 2000 }, (_, i) => placement(spec, 2, i).lighting[0] ** 2).reduce((s, v) => s + v, 0) / 2000);
  const rWant = 25.5 * Math.sqrt([0, 1, 2].reduce((s, i) => s + (IMAGENET_PCA.eigval[i]! * IMAGENET_PCA.eigvec[0]![i]!) ** 2, 0));
  t.ok(Math.abs(rStd / rWant - 1) < 0.06, `R offset rms ${rStd.toFixed(3)} vs ${rWant.toFixed(3)} levels`);

  // Custom eigenpairs and alphaStd.
  const custom = transformSpec(
    'test',
    {
      pca: {
        eigval: [1, 0, 0],
        eigvec: [
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ],
        alphaStd: 0.5,
      },
    },
    true,
    3,
  );
  const p = placement(custom, 0, 0);
  t.equal(p.lighting[1], 0);
  t.equal(p.lighting[2], 0);
  t.ok(Math.abs(p.lighting[0] - 255 * p.alpha[0]) < 1e-9, 'a unit eigenpair moves R by 255 alpha');
});

t.test('ten crops: four corners and the centre, then the same five flipped', async (t) => {
  for (const crop of [227, 224]) {
    const far = SIDE - crop;
    const c = far >> 1;
    const got = tenCropPlacements(crop).map((p) => [p.top, p.left, p.flip]);
    t.same(
      got,
      [
        [0, 0, false],
        [0, far, false],
        [far, 0, false],
        [far, far, false],
        [c, c, false],
        [0, 0, true],
        [0, far, true],
        [far, 0, true],
        [far, far, true],
        [c, c, true],
      ],
      `crop ${crop}`,
    );
    const spec = transformSpec('test', { crop }, false, 0);
    const centre = placement(spec, 0, 0);
    t.same([centre.top, centre.left, centre.flip], [c, c, false], `the test-time centre crop is the 5th of the ten (${c}, ${c})`);
  }
});

t.test('bad options are ND_ARG errors naming the option', async (t) => {
  t.throws(() => transformSpec('op', { crop: 300 }, true, 0), {
    code: 'ND_ARG',
    message: /op: 'crop' must be an integer in \[1, 256\].*300/,
  });
  t.throws(() => transformSpec('op', { crop: 22.5 }, true, 0), { code: 'ND_ARG' });
  t.throws(() => transformSpec('op', { mean: [1, 2] }, true, 0), { code: 'ND_ARG', message: /'mean' must be 3 numbers/ });
  t.throws(() => transformSpec('op', { mean: new Float32Array(100) }, true, 0), { code: 'ND_ARG', message: /mean image.*196608/ });
  t.throws(() => transformSpec('op', { mean: [1, NaN, 2] }, true, 0), { code: 'ND_ARG' });
  t.throws(() => transformSpec('op', { scale: [1, 2] }, true, 0), { code: 'ND_ARG', message: /'scale'/ });
  t.throws(() => transformSpec('op', { pca: { eigval: [1, 2], eigvec: IMAGENET_PCA.eigvec } }, true, 0), {
    code: 'ND_ARG',
    message: /pca.eigval/,
  });
  t.throws(() => transformSpec('op', { pca: { eigval: [1, 2, 3], eigvec: [[1, 0, 0]] } }, true, 0), {
    code: 'ND_ARG',
    message: /pca.eigvec/,
  });
  t.throws(() => transformSpec('op', { pca: { ...IMAGENET_PCA, alphaStd: -1 } }, true, 0), { code: 'ND_ARG', message: /alphaStd/ });
});
