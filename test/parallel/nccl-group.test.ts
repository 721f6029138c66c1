// The NCCL backend of process groups: rank 0's unique id reaches every rank through the TCP store
// (exchangeNcclId, run here over a real store with a stand-in id maker), a missing rank 0 is
// ND_TIMEOUT, and initProcessGroup({ backend: 'nccl' }) without a usable GPU is a coded error.
// Joining with ncclCommInitRank and the collectives on cuda:N need GPUs: compiled, not run here.
import t from 'tap';
import { backends } from '../../lib/index.js';
import { exchangeNcclId, initProcessGroup } from '../../lib/parallel/process-group.js';
import { StoreClient } from '../../lib/parallel/store-client.js';
import { StoreServer } from '../../lib/parallel/store-server.js';
import { freePort } from './helpers.js';

t.test("every rank gets rank 0's 128-byte unique id through the store", async (t) => {
  const server = await StoreServer.listen({ host: '127.0.0.1', port: 0 });
  const clients = await Promise.all(
    [0, 1, 2].map(() => StoreClient.connect({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 5000, timeoutMs: 5000 })),
  );
  const made = Uint8Array.from({ length: 128 }, (_, i) => (i * 37 + 11) & 255);
  let calls = 0;
  const make = () => {
    calls++;
    return made;
  };
  // The others ask first: they wait for rank 0's set.
  const later = clients.slice(1).map((c, i) => exchangeNcclId(c, i + 1, make, 5000));
  const first = await exchangeNcclId(clients[0], 0, make, 5000);
  const rest = await Promise.all(later);
  t.equal(calls, 1, 'only rank 0 makes an id');
  for (const [r, id] of [first, ...rest].entries()) t.same(Array.from(id), Array.from(made), `rank ${r} holds rank 0's bytes`);
  for (const c of clients) c.close();
  await server.close();
});

t.test('a rank 0 that never sets the id: ND_TIMEOUT; a wrong-sized id: coded errors', async (t) => {
  const server = await StoreServer.listen({ host: '127.0.0.1', port: 0 });
  const c = await StoreClient.connect({ host: '127.0.0.1', port: server.port, connectTimeoutMs: 5000, timeoutMs: 5000 });
  await t.rejects(
    exchangeNcclId(c, 1, () => new Uint8Array(128), 200),
    { code: 'ND_TIMEOUT' },
  );
  await t.rejects(
    exchangeNcclId(c, 0, () => new Uint8Array(5), 200),
    { code: 'ND_INTERNAL', message: /5 bytes, not 128/ },
  );
  await c.set('convkit/nccl/unique-id', new Uint8Array(7));
  await t.rejects(
    exchangeNcclId(c, 1, () => new Uint8Array(128), 200),
    { code: 'ND_FORMAT', message: /7 bytes/ },
  );
  c.close();
  await server.close();
});

const cuda = backends().find((b) => b.name === 'cuda');
t.test(
  'initProcessGroup({ backend: "nccl" }) without a usable GPU is a coded error',
  { skip: cuda?.available && 'a GPU is here: the GPU check runs a real one-rank group' },
  async (t) => {
    const env = { RANK: '0', WORLD_SIZE: '1', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(await freePort()) };
    await t.rejects(
      initProcessGroup({ backend: 'nccl', env }),
      { code: 'ND_NO_CUDA' },
      'ND_NO_CUDA: the CPU build, or no cuda:0 (compiled, not run)',
    );
    await t.rejects(initProcessGroup({ backend: 'nccl', env, device: 'cpu' }), { code: /ND_ARG|ND_NO_CUDA/ });
  },
);
