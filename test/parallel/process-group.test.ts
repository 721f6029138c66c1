// initProcessGroup in one process: a group of one (no variables) needs no engine and its
// collectives leave tensors as they are; bad options and tensors are coded errors.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { initProcessGroup, shapeSignature } from '../../lib/parallel/process-group.js';
import { Tensor } from '../../lib/tensor/tensor.js';
import { freePort, here } from './helpers.js';

t.test('a group of one: collectives change nothing, checkSame and barrier pass, destroy is idempotent', async (t) => {
  const port = await freePort();
  const pg = await initProcessGroup({ backend: 'gloo', env: { MASTER_PORT: String(port) }, timeoutMs: 5000 });
  t.equal(pg.rank, 0);
  t.equal(pg.worldSize, 1);
  t.equal(pg.localWorldSize, 1);
  const x = Tensor.fromArray([1, 2, 3, 4], [4]);
  pg.allReduce(x, { op: 'mean' });
  pg.allReduce(x);
  pg.broadcast(x, 0);
  await pg.barrier();
  t.same([...(await x.data())], [1, 2, 3, 4]);
  await pg.checkSame('model', shapeSignature([[4]], 8));
  await pg.store.set('user/key', 'v');
  t.equal((await pg.store.get('user/key')).toString(), 'v', 'the store is served and usable');
  await pg.destroy();
  await pg.destroy();
  t.throws(() => pg.allReduce(x), { code: 'ND_CLOSED', message: /destroyed/ });
  x.dispose();
});

t.test('bad options and tensors are coded errors', async (t) => {
  await t.rejects(initProcessGroup({ backend: 'mpi' as 'gloo' }), { code: 'ND_ARG', message: /backend must be 'gloo' or 'nccl'/ });
  await t.rejects(initProcessGroup({ backend: 'nccl' }), { code: 'ND_NO_CUDA' }); // no GPU here (nccl-group.test.ts)
  await t.rejects(initProcessGroup({ backend: 'gloo', timeoutMs: 0 }), { code: 'ND_ARG', message: /timeoutMs/ });
  await t.rejects(initProcessGroup({ backend: 'gloo', env: { RANK: '3', WORLD_SIZE: '2' } }), { code: 'ND_ARG', message: /RANK=3/ });
  const port = await freePort();
  const pg = await initProcessGroup({ backend: 'gloo', env: { MASTER_PORT: String(port) } });
  t.teardown(() => pg.destroy());
  const x = Tensor.zeros([4]);
  const i = Tensor.zeros([4], { dtype: 'int32' });
  t.teardown(() => {
    x.dispose();
    i.dispose();
  });
  t.throws(() => pg.allReduce(x, { offset: 2, length: 3 }), {
    code: 'ND_SHAPE',
    message: /\[2, 2\+3\) is not inside the tensor's 4 elements/,
  });
  t.throws(() => pg.allReduce(x, { op: 'max' as 'sum' }), { code: 'ND_ARG' });
  t.throws(() => pg.allReduce(i), { code: 'ND_ARG', message: /float32/ });
  t.throws(() => pg.broadcast(x, 1), { code: 'ND_ARG', message: /root must be a rank in \[0, 1\)/ });
});

t.test('shapeSignature differs when a shape or the batch size does', async (t) => {
  const a = shapeSignature([[6, 1, 5, 5], [6]], 64);
  t.equal(a, shapeSignature([[6, 1, 5, 5], [6]], 64));
  t.not(a, shapeSignature([[6, 1, 5, 5], [6]], 32));
  t.not(a, shapeSignature([[6, 1, 3, 5], [6]], 64));
  t.match(a, /^2 tensors, batch 64, sha256 [0-9a-f]{16}$/);
});

t.test('a script that never destroys its group still exits by itself', async (t) => {
  const port = await freePort();
  const r = spawnSync(process.execPath, [...process.execArgv, join(here, 'forgotten-destroy-child.ts')], {
    env: { ...process.env, MASTER_PORT: String(port) },
    encoding: 'utf8',
    timeout: 60000,
  });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, 'joined 0 v', 'it used the store');
});

t.test("'on' runs a collective on another CPU stream, and refuses a GPU", async (t) => {
  const port = await freePort();
  const pg = await initProcessGroup({ backend: 'gloo', env: { MASTER_PORT: String(port) } });
  t.teardown(() => pg.destroy());
  const x = Tensor.fromArray([1, 2], [2]);
  t.teardown(() => x.dispose());
  pg.allReduce(x, { on: 'cpu:1' });
  t.same([...(await x.data())], [1, 2]);
  // Where cuda:0 exists, 'on' refuses it (ND_ARG); elsewhere naming it is already ND_NO_CUDA.
  t.throws(() => pg.allReduce(x, { on: 'cuda:0' }), {
    code: /^ND_(ARG|NO_CUDA)$/,
    message: /'on' must be a CPU device, got cuda:0|cuda:0/,
  });
});
