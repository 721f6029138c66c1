import t from 'tap';
import { Tensor, ops } from '../../lib/index.js';
import { mismatch } from '../helpers/compare.js';
import { eachBackend } from '../helpers/each-backend.js';
import { numericGrad } from '../helpers/gradcheck.js';
import { f32, randomArray } from '../helpers/rng.js';

function ref(x: Float64Array, a: Float64Array, b: Float64Array, N: number, C: number, HW: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) for (let i = 0; i < HW; i++) y[(n * C + c) * HW + i] = a[c] * x[(n * C + c) * HW + i] + b[c];
  return y;
}

eachBackend(t, 'channelAffine forward and backward vs float64 and finite differences', { families: [], cuda: true }, async (t, be) => {
  for (const [N, C, H, W] of [
    [1, 1, 1, 1],
    [2, 3, 5, 7],
    [3, 6, 14, 14],
  ]) {
    const HW = H * W;
    const x = f32(randomArray(N * C * HW, 1 + C));
    const a = f32(randomArray(C, 2 + C));
    const b = f32(randomArray(C, 3 + C));
    const g = f32(randomArray(N * C * HW, 4 + C));
    const X = Tensor.fromArray(x, [N, C, H, W], { device: be.device });
    const A = Tensor.fromArray(a, [C], { device: be.device });
    const B = Tensor.fromArray(b, [C], { device: be.device });
    const Y = ops.channelAffine(X, A, B);
    t.equal(mismatch(await Y.data(), ref(x, a, b, N, C, HW)), null, `forward ${N}x${C}x${H}x${W}`);
    const { dx, da, db } = ops.channelAffineBackward(Tensor.fromArray(g, [N, C, H, W], { device: be.device }), X, A);
    t.equal(
      mismatch(
        await dx!.data(),
        numericGrad((v) => ref(v, a, b, N, C, HW), x, g),
        { rtol: 1e-4, atol: 1e-4 },
      ),
      null,
      'dx',
    );
    t.equal(
      mismatch(
        await da.data(),
        numericGrad((v) => ref(x, v, b, N, C, HW), a, g),
        { rtol: 1e-4, atol: 1e-4 },
      ),
      null,
      'da',
    );
    t.equal(
      mismatch(
        await db.data(),
        numericGrad((v) => ref(x, a, v, N, C, HW), b, g),
        { rtol: 1e-4, atol: 1e-4 },
      ),
      null,
      'db',
    );
  }
});

t.test('channelAffine bad input', async (t) => {
  const x = Tensor.zeros([2, 3, 4, 4]);
  t.throws(() => ops.channelAffine(x, Tensor.zeros([4]), Tensor.zeros([3])), {
    code: 'ND_SHAPE',
    message: /channelAffine: 'a' \[4\] must be \[3\] for 'x' \[2, 3, 4, 4\]/,
  });
  t.throws(() => ops.channelAffineBackward(Tensor.zeros([2, 3, 4, 5]), x, Tensor.zeros([3])), { code: 'ND_SHAPE' });
});
