// native.firstNonFinite, the vectorised input check of InferenceSession.run: it must name the
// same index as a plain scan (Number.isFinite) for every kind of non-finite value, anywhere in
// the array (each side of a block boundary included), and never flag a finite extreme.
import t from 'tap';
import { native } from '../../lib/native.js';

const reference = (x: Float32Array): number => x.findIndex((v) => !Number.isFinite(v));

t.test('finite extremes are finite', async (t) => {
  const x = Float32Array.from([0, -0, 1, -1, 3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -1e-45, 1.17549435e-38]);
  t.equal(native.firstNonFinite(x), -1);
  t.equal(native.firstNonFinite(new Float32Array(0)), -1, 'an empty array');
});

t.test('every non-finite kind at positions around block boundaries, as a plain scan finds it', async (t) => {
  const bits = new Uint32Array(1);
  const asFloat = new Float32Array(bits.buffer);
  const nans = [0x7fc00000, 0xffc00000, 0x7f800001, 0x7fbfffff, 0xffffffff]; // quiet, negative, signalling, payloads
  const kinds = [Infinity, -Infinity, ...nans.map((b) => ((bits[0] = b), asFloat[0]!))];
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  for (const n of [1, 5, 1023, 1024, 1025, 4096, 154587]) {
    const base = Float32Array.from({ length: n }, () => rand() * 1e3);
    t.equal(native.firstNonFinite(base), -1, `n=${n}: all finite`);
    for (const at of [0, 1, 1022, 1023, 1024, 1025, n - 1].filter((i) => i >= 0 && i < n)) {
      for (const k of kinds) {
        const x = base.slice();
        x[at] = k;
        if (at + 7 < n) x[at + 7] = Infinity; // a later one must not win
        const got = native.firstNonFinite(x);
        if (got !== reference(x)) t.fail(`n=${n}, ${String(k)} at ${at}: got ${got}, want ${reference(x)}`);
      }
    }
    t.pass(`n=${n}: every position and kind as the reference`);
  }
});

t.test('a SharedArrayBuffer view is read too; a wrong type is a coded error', async (t) => {
  const x = new Float32Array(new SharedArrayBuffer(4096 * 4), 1024, 2048);
  x[2000] = Number.NaN;
  t.equal(native.firstNonFinite(x), 2000, 'offset view of shared memory');
  t.throws(() => native.firstNonFinite(new Float64Array(4) as unknown as Float32Array), { code: 'ND_ARG', message: /Float32Array/ });
});
