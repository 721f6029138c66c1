// The example server's paced intake (examples/server/intake.mjs), on a real node:http server over
// loopback: new connections reach the parser at most `window` at a time and in arrival order,
// are held unread while the server says it has no room, and go through on kick() or openAll();
// a client that connects and stays silent does not hold the window; a client that gave up while
// held does not stop the line; an answered kept-alive connection goes behind the held ones.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import t from 'tap';
// @ts-expect-error: an example's plain .mjs module, without types
import { paceIntake } from '../../examples/server/intake.mjs';

interface Intake {
  kick(): void;
  openAll(): void;
  requeue(socket: Socket): void;
  readonly held: number;
  snapshot(): { accepted: number; handed: number; held: number; unparsed: number; requeued: number; window: number };
}

interface Harness {
  server: Server;
  intake: Intake;
  port: number;
  seen: string[];
  /** What canTake() answers. */
  room: { open: boolean };
}

async function harness(window: number, handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<Harness> {
  const seen: string[] = [];
  const room = { open: true };
  const server = createServer(
    handler ??
      ((req, res) => {
        seen.push(String(req.headers['x-id']));
        res.end('ok');
      }),
  );
  const intake = paceIntake(server, { window, canTake: () => room.open }) as Intake;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { server, intake, port, seen, room };
}

/** A raw client that sends one GET with x-id and resolves with the status line. */
function request(port: number, id: string, keepOpen = false): { socket: Socket; answered: Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  socket.write(`GET / HTTP/1.1\r\nhost: x\r\nx-id: ${id}\r\n${keepOpen ? '' : 'connection: close\r\n'}\r\n`);
  const answered = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (d) => {
      text += d.toString();
      if (text.includes('\r\n\r\n')) resolve(text.split('\r\n')[0]!);
    });
    socket.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
    socket.on('error', () => {});
  });
  return { socket, answered };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

function close(h: Harness): Promise<void> {
  h.intake.openAll();
  h.server.closeAllConnections();
  return new Promise((r) => h.server.close(() => r()));
}

t.test('every connection is served, in arrival order, with a window of 2', async (t) => {
  const h = await harness(2);
  const clients = [];
  for (let i = 0; i < 12; i++) {
    clients.push(request(h.port, `c${i}`));
    await tick(2); // arrive in a known order
  }
  const lines = await Promise.all(clients.map((c) => c.answered));
  t.ok(
    lines.every((l) => l === 'HTTP/1.1 200 OK'),
    'all answered',
  );
  t.same(
    h.seen,
    clients.map((_, i) => `c${i}`),
    'in arrival order',
  );
  const s = h.intake.snapshot();
  t.equal(s.accepted, 12);
  t.equal(s.handed, 12);
  t.equal(s.held, 0);
  t.equal(s.unparsed, 0, 'no socket left counted against the window');
  await close(h);
});

t.test('held unread while there is no room; kick() lets them through; openAll() at shutdown', async (t) => {
  const h = await harness(4);
  h.room.open = false;
  const held = [request(h.port, 'h0'), request(h.port, 'h1'), request(h.port, 'h2')];
  await tick(100);
  t.same(h.seen, [], 'no request parsed while the server is full');
  t.equal(h.intake.held, 3, 'three connections held');
  h.room.open = true;
  h.intake.kick();
  t.same(await Promise.all(held.map((c) => c.answered)), Array(3).fill('HTTP/1.1 200 OK'), 'served after kick()');
  h.room.open = false;
  const late = request(h.port, 'late');
  await tick(50);
  t.equal(h.intake.held, 1);
  h.intake.openAll();
  t.equal(await late.answered, 'HTTP/1.1 200 OK', 'openAll() hands over even without room');
  await close(h);
});

t.test('a silent client does not hold the window; a client that left while held does not stop the line', async (t) => {
  const h = await harness(1);
  const silent = connect(h.port, '127.0.0.1');
  silent.on('error', () => {});
  await tick(20);
  const after = request(h.port, 'after-silent');
  t.equal(await after.answered, 'HTTP/1.1 200 OK', 'served once the silent one stopped counting');
  h.room.open = false;
  const gone = request(h.port, 'gone');
  await tick(30);
  gone.socket.destroy();
  const next = request(h.port, 'next');
  await tick(30);
  h.room.open = true;
  h.intake.kick();
  t.equal(await next.answered, 'HTTP/1.1 200 OK');
  // Held unread, the server cannot see the departure; handed over, its request is read and the
  // answer to a closed socket goes nowhere. What matters: the intake goes on.
  t.equal(h.intake.snapshot().unparsed, 0, 'nothing left counted against the window');
  silent.destroy();
  await close(h);
});

t.test('requeue: an answered kept-alive connection waits behind held ones', async (t) => {
  const order: string[] = [];
  const parked: ServerResponse[] = [];
  // Window 1: one connection parsed at a time, so the order is exact.
  const h: Harness = await harness(1, (req, res) => {
    const id = String(req.headers['x-id']);
    order.push(id);
    res.once('finish', () => h.intake.requeue(req.socket as Socket));
    if (id === 'k1') parked.push(res);
    else res.end('ok');
  });
  const keep = request(h.port, 'k1', true);
  while (parked.length === 0) await tick(5);
  h.room.open = false;
  const a = request(h.port, 'a');
  const b = request(h.port, 'b');
  await tick(30);
  t.equal(h.intake.held, 2, 'two new connections held');
  // Answered while others are held: the kept-alive connection is paused and goes behind them.
  parked[0]!.end('ok');
  await keep.answered;
  keep.socket.write('GET / HTTP/1.1\r\nhost: x\r\nx-id: k2\r\n\r\n');
  await tick(30);
  t.same(order, ['k1'], 'its next request is not read while it waits');
  t.equal(h.intake.snapshot().requeued, 1);
  h.room.open = true;
  h.intake.kick();
  await Promise.all([a.answered, b.answered]);
  while (order.length < 4) await tick(5);
  t.same(order, ['k1', 'a', 'b', 'k2'], 'round robin: the held connections first');
  keep.socket.destroy();
  await close(h);
});

t.test('window must be a positive integer', async (t) => {
  const server = createServer(() => {});
  t.throws(() => paceIntake(server, { window: 0 }), RangeError);
  t.throws(() => paceIntake(server, { window: 1.5 }), RangeError);
});
