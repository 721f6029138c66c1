// The TCP store (lib/parallel/store-*.ts): its operations, its timeouts, and that malformed,
// oversized, unknown or abandoned requests get a coded error (or a closed connection) while the
// server keeps serving everyone else.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import t from 'tap';
import type { Test } from 'tap';
import { arriveAll, checkSame } from '../../lib/parallel/rendezvous.js';
import { StoreClient } from '../../lib/parallel/store-client.js';
import { FrameSplitter, Op, Reader, Writer } from '../../lib/parallel/store-protocol.js';
import { StoreServer } from '../../lib/parallel/store-server.js';

async function serve(t: Test, opts: { maxFrameBytes?: number } = {}): Promise<StoreServer> {
  const s = await StoreServer.listen({ host: '127.0.0.1', port: 0, ...opts });
  t.teardown(() => s.close());
  return s;
}

async function client(t: Test, server: StoreServer): Promise<StoreClient> {
  const c = await StoreClient.connect({ host: '127.0.0.1', port: server.port, timeoutMs: 2000 });
  t.teardown(() => c.close());
  return c;
}

/** A raw connection that sends bytes and reads reply frames (status byte, then the rest). */
async function raw(
  server: StoreServer,
): Promise<{ socket: Socket; send(b: Buffer): void; reply(): Promise<Reader>; closed: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port: server.port });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const splitter = new FrameSplitter(1 << 20);
  const bodies: Buffer[] = [];
  const wakes: Array<() => void> = [];
  socket.on('data', (c: Buffer) => {
    bodies.push(...splitter.push(c));
    while (wakes.length) wakes.shift()!();
  });
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.on('error', () => {});
  return {
    socket,
    send: (b) => socket.write(b),
    closed,
    async reply() {
      while (bodies.length === 0) await new Promise<void>((r) => wakes.push(r));
      return new Reader(bodies.shift()!);
    },
  };
}

function errorOf(r: Reader): { code: string; message: string } {
  if (r.u8('status') !== 1) throw new Error('expected an error reply');
  return { code: r.str('code'), message: r.str('message') };
}

t.test('set, get, add, check, delete and wait', async (t) => {
  const server = await serve(t);
  const a = await client(t, server);
  const b = await client(t, server);
  await a.set('k', 'hello');
  t.equal((await b.get('k')).toString(), 'hello', 'a value set by one client is read by another');
  const bin = Buffer.from([0, 255, 1, 128]);
  await a.set('bin', bin);
  t.same([...(await b.get('bin'))], [...bin], 'values are bytes, not text');
  t.equal(await a.add('n', 5), 5, 'add starts a missing key at 0');
  t.equal(await b.add('n', -7), -2, 'add returns the new value, across clients');
  t.equal((await a.get('n')).toString(), '-2', 'a counter reads back as decimal text');
  t.same(await a.check(['k', 'nope', 'n']), [true, false, true], 'check says which keys exist');
  t.equal(await a.delete('k'), true, 'delete reports an existing key');
  t.equal(await a.delete('k'), false, 'and a missing one');
  // wait resolves when another client sets the last key, get waits for its key
  const waiting = a.wait(['w1', 'w2'], 2000);
  const getting = a.get('w2', 2000);
  await b.set('w1', '1');
  await b.set('w2', 'two');
  await waiting;
  t.equal((await getting).toString(), 'two', 'get waited for the key');
});

t.test('wait and get time out with ND_TIMEOUT naming the missing keys; the server keeps serving', async (t) => {
  const server = await serve(t);
  const a = await client(t, server);
  await a.set('here', '1');
  const started = Date.now();
  await t.rejects(a.wait(['here', 'absent'], 150), { code: 'ND_TIMEOUT', message: /"absent"/ }, 'the missing key is named');
  t.ok(Date.now() - started >= 140, 'after the timeout, not before');
  await t.rejects(a.get('also-absent', 0), { code: 'ND_TIMEOUT', message: /also-absent/ }, 'get with no wait');
  await a.set('after', 'ok');
  t.equal((await a.get('after')).toString(), 'ok', 'the same connection works afterwards');
});

t.test('a malformed request gets ND_FORMAT and the connection keeps working', async (t) => {
  const server = await serve(t);
  const c = await raw(server);
  t.teardown(() => c.socket.destroy());
  // A GET whose key claims 50 bytes inside a 7-byte body.
  const bad = Buffer.alloc(4 + 7);
  bad.writeUInt32LE(7, 0);
  bad.writeUInt8(Op.GET, 4);
  bad.writeUInt32LE(50, 5);
  c.send(bad);
  const e = errorOf(await c.reply());
  t.equal(e.code, 'ND_FORMAT', 'coded');
  t.match(e.message, /malformed get request/, 'names the request');
  // Trailing bytes after a complete SET are malformed too.
  const trailing = new Writer().u8(Op.SET).str('x').str('y').u8(9).frame();
  c.send(trailing);
  t.equal(errorOf(await c.reply()).code, 'ND_FORMAT', 'trailing bytes are refused');
  c.send(new Writer().u8(Op.SET).str('x').str('y').frame());
  t.equal((await c.reply()).u8('status'), 0, 'a valid request on the same connection succeeds');
  const other = await client(t, server);
  t.equal((await other.get('x')).toString(), 'y', 'and took effect');
});

t.test('an unknown opcode gets ND_ARG and the connection keeps working', async (t) => {
  const server = await serve(t);
  const c = await raw(server);
  t.teardown(() => c.socket.destroy());
  c.send(new Writer().u8(0x7f).str('whatever').frame());
  const e = errorOf(await c.reply());
  t.equal(e.code, 'ND_ARG');
  t.match(e.message, /unknown request opcode 127/);
  c.send(new Writer().u8(Op.ADD).str('n').i64(3n).frame());
  const r = await c.reply();
  t.equal(r.u8('status'), 0);
  t.equal(r.i64('value'), 3n, 'the next request is answered');
});

t.test('an oversized frame gets ND_FORMAT, its connection closes, others are served', async (t) => {
  const server = await serve(t, { maxFrameBytes: 1024 });
  const keep = await client(t, server);
  await keep.set('before', '1');
  const c = await raw(server);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(1_000_000, 0);
  c.send(head);
  const e = errorOf(await c.reply());
  t.equal(e.code, 'ND_FORMAT');
  t.match(e.message, /1000000 bytes exceeds the store's limit of 1024/);
  await c.closed;
  t.pass('the server closed the connection whose framing broke');
  t.equal((await keep.get('before')).toString(), '1', 'another client is still served');
  await t.rejects(
    keep.set('big', Buffer.alloc(2000)),
    { code: 'ND_FORMAT' },
    "a client's own oversized set is refused (and its connection closed)",
  );
  const fresh = await client(t, server);
  t.equal((await fresh.get('before')).toString(), '1', 'and the server still serves new clients');
});

t.test('a client that disconnects mid-frame or mid-wait leaves the server healthy', async (t) => {
  const server = await serve(t);
  const c = await raw(server);
  const head = Buffer.alloc(4 + 10);
  head.writeUInt32LE(100, 0); // claims 100 bytes, sends 10, then vanishes
  c.send(head);
  c.socket.destroy();
  const waiter = await raw(server);
  waiter.send(new Writer().u8(Op.WAIT).u32(1).str('never').u32(60000).frame());
  await new Promise((r) => setTimeout(r, 50));
  waiter.socket.destroy();
  for (let i = 0; i < 100 && server.connections > 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(server.connections, 0, 'both connections were dropped by the server');
  const ok = await client(t, server);
  await ok.set('never', 'now'); // wakes nobody: the vanished waiter was removed
  t.equal((await ok.get('never')).toString(), 'now', 'the server still serves');
});

t.test('a pending request rejects with ND_CLOSED when the server goes away', async (t) => {
  const server = await StoreServer.listen({ host: '127.0.0.1', port: 0 });
  const c = await StoreClient.connect({ host: '127.0.0.1', port: server.port });
  const waiting = c.wait(['k'], 60000);
  await new Promise((r) => setTimeout(r, 30));
  await server.close();
  await t.rejects(waiting, { code: 'ND_CLOSED' });
  await t.rejects(c.set('a', 'b'), { code: 'ND_CLOSED' }, 'later requests too');
});

t.test('connect retries until the server is up, and times out with ND_TIMEOUT', async (t) => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const connecting = StoreClient.connect({ host: '127.0.0.1', port, connectTimeoutMs: 5000 });
  await new Promise((r) => setTimeout(r, 200));
  const server = await StoreServer.listen({ host: '127.0.0.1', port });
  t.teardown(() => server.close());
  const c = await connecting;
  await c.set('late', 'fine');
  t.equal((await c.get('late')).toString(), 'fine', 'connected to a server that started later');
  c.close();
  await server.close();
  const started = Date.now();
  await t.rejects(StoreClient.connect({ host: '127.0.0.1', port, connectTimeoutMs: 300 }), {
    code: 'ND_TIMEOUT',
    message: /could not connect/,
  });
  t.ok(Date.now() - started < 3000, 'gave up near its deadline');
});

t.test('arriveAll names the ranks that never arrived; checkSame names the ranks that disagree', async (t) => {
  const server = await serve(t);
  const r0 = await client(t, server);
  const r2 = await client(t, server);
  const started = Date.now();
  const results = await Promise.allSettled([
    arriveAll(r0, 'job/init', { rank: 0, worldSize: 3 }, 300),
    arriveAll(r2, 'job/init', { rank: 2, worldSize: 3 }, 300),
  ]);
  for (const r of results) {
    t.equal(r.status, 'rejected');
    if (r.status === 'rejected') {
      t.equal(r.reason.code, 'ND_TIMEOUT');
      t.match(r.reason.message, /ranks 1 of 3 never arrived/, 'rank 1 is named, the others are not');
    }
  }
  t.ok(Date.now() - started < 5000, 'within a bounded time');
  const r1 = await client(t, server);
  const place = (rank: number) => ({ rank, worldSize: 3 });
  await Promise.all([r0, r1, r2].map((c, i) => checkSame(c, 'job/same', 'model', place(i), 'sig-A', 2000)));
  t.pass('equal values pass');
  const mismatch = await Promise.allSettled(
    [r0, r1, r2].map((c, i) => checkSame(c, 'job/diff', 'model', place(i), i === 1 ? 'sig-B' : 'sig-A', 2000)),
  );
  for (const r of mismatch) {
    t.equal(r.status, 'rejected');
    if (r.status === 'rejected') {
      t.equal(r.reason.code, 'ND_ARG');
      t.match(r.reason.message, /ranks 0, 2: "sig-A"; rank 1: "sig-B"/, 'names the ranks and their values');
    }
  }
});

t.test('bad arguments are coded errors', async (t) => {
  await t.rejects(StoreServer.listen({ port: 70000 }), { code: 'ND_ARG' });
  await t.rejects(StoreClient.connect({ host: '127.0.0.1', port: 0 }), { code: 'ND_ARG' });
  const server = await serve(t);
  const c = await client(t, server);
  await t.rejects(c.set('', 'x'), { code: 'ND_ARG' }, 'an empty key');
  await t.rejects(c.add('k', 0.5), { code: 'ND_ARG' }, 'a fractional delta');
  await t.rejects(c.wait(['k'], -1), { code: 'ND_ARG' }, 'a negative timeout');
  await c.set('text', 'abc');
  await t.rejects(c.add('text', 1), { code: 'ND_ARG', message: /not an integer/ }, 'add on a non-integer value');
});
