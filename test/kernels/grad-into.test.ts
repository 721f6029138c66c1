// Backward ops write parameter gradients into given tensors (a model's gradient views): the
// result is the given tensor, overwritten (not accumulated into) with what a fresh allocation
// would hold, and a wrong shape or device is a coded error before anything is queued.
import t from 'tap';
import { Tensor, ops } from '../../lib/index.js';

const same = async (a: Tensor, b: Tensor) => {
  const x = await a.data();
  const y = await b.data();
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
};

t.test('conv2dBackward writes dw and db into the given tensors', async (t) => {
  const x = Tensor.randn([2, 4, 7, 7], { seed: 1 });
  const w = Tensor.randn([6, 2, 3, 3], { seed: 2 });
  const bias = Tensor.randn([6], { seed: 3 });
  const dy = Tensor.randn([2, 6, 5, 5], { seed: 4 });
  const o = { groups: 2, bias };
  const fresh = ops.conv2dBackward(dy, x, w, o);
  const dw = Tensor.full([6, 2, 3, 3], 123);
  const db = Tensor.full([6], -5);
  const r = ops.conv2dBackward(dy, x, w, { ...o, into: { dw, db } });
  t.equal(r.dw, dw, 'dw is the given tensor');
  t.equal(r.db, db, 'db is the given tensor');
  t.ok(await same(dw, fresh.dw), 'dw overwritten with the gradient');
  t.ok(await same(db, fresh.db!), 'db overwritten with the gradient');
  t.throws(() => ops.conv2dBackward(dy, x, w, { ...o, into: { dw: Tensor.zeros([6, 2, 3, 2]) } }), {
    code: 'ND_SHAPE',
    message: /conv2dBackward: 'into.dw' \[6, 2, 3, 2\] must be \[6, 2, 3, 3\]/,
  });
  t.throws(() => ops.conv2dBackward(dy, x, w, { ...o, into: { db: Tensor.zeros([6], { device: 'cpu:1' }) } }), {
    code: 'ND_ARG',
    message: /conv2dBackward: 'into.db' is on cpu:1 but the op runs on cpu:0/,
  });
  for (const u of [x, w, bias, dy, fresh.dw, fresh.db!, fresh.dx!, r.dx!, dw, db]) u.dispose();
});

t.test('linearBackward writes dw and db into the given tensors', async (t) => {
  const x = Tensor.randn([5, 7], { seed: 5 });
  const w = Tensor.randn([3, 7], { seed: 6 });
  const dy = Tensor.randn([5, 3], { seed: 7 });
  const fresh = ops.linearBackward(dy, x, w);
  const dw = Tensor.full([3, 7], 9);
  const db = Tensor.full([3], 9);
  const r = ops.linearBackward(dy, x, w, { into: { dw, db } });
  t.equal(r.dw, dw);
  t.equal(r.db, db);
  t.ok(await same(dw, fresh.dw), 'dw overwritten');
  t.ok(await same(db, fresh.db!), 'db overwritten');
  t.throws(() => ops.linearBackward(dy, x, w, { into: { db: Tensor.zeros([4]) } }), {
    code: 'ND_SHAPE',
    message: /linearBackward: 'into.db' \[4\] must be \[3\]/,
  });
  t.throws(() => ops.linearBackward(dy, x, w, { into: { dw: Tensor.zeros([3, 7], { dtype: 'int32' }) } }), {
    code: 'ND_ARG',
    message: /linearBackward: 'into.dw' must be float32/,
  });
  for (const u of [x, w, dy, fresh.dw, fresh.db!, fresh.dx!, r.dx!, dw, db]) u.dispose();
});

t.test('channelAffineBackward writes da and db into the given tensors', async (t) => {
  const x = Tensor.randn([2, 3, 4, 4], { seed: 8 });
  const a = Tensor.randn([3], { seed: 9 });
  const dy = Tensor.randn([2, 3, 4, 4], { seed: 10 });
  const fresh = ops.channelAffineBackward(dy, x, a);
  const da = Tensor.full([3], 1);
  const db = Tensor.full([3], 2);
  const r = ops.channelAffineBackward(dy, x, a, { into: { da, db } });
  t.equal(r.da, da);
  t.equal(r.db, db);
  t.ok(await same(da, fresh.da), 'da overwritten');
  t.ok(await same(db, fresh.db), 'db overwritten');
  t.throws(() => ops.channelAffineBackward(dy, x, a, { into: { da: Tensor.zeros([2]) } }), {
    code: 'ND_SHAPE',
    message: /channelAffineBackward: 'into.da' \[2\] must be \[3\]/,
  });
  t.throws(() => ops.channelAffineBackward(dy, x, a, { into: { da, db: da } }), { code: 'ND_ARG', message: /distinct/ });
  for (const u of [x, a, dy, fresh.da, fresh.db, fresh.dx!, r.dx!, da, db]) u.dispose();
});
