// The example server's admission (examples/server/admission.mjs): at most `limit` requests are
// read at once, the rest wait paused in arrival order and bounded, a client that leaves while
// waiting frees its place, and close() refuses whoever waits.
import { EventEmitter } from 'node:events';
import t from 'tap';
// @ts-expect-error: an example's plain .mjs module, without types
import { Admission } from '../../examples/server/admission.mjs';

class FakeRequest extends EventEmitter {
  paused = false;
  pause() {
    this.paused = true;
    return this;
  }
}

type Release = () => void;

t.test('admits up to the limit, then queues in order and passes each freed place on', async (t) => {
  const a = new Admission({ limit: 2, maxWaiting: 10 });
  const reqs = Array.from({ length: 5 }, () => new FakeRequest());
  const order: number[] = [];
  const entered = reqs.map((r, i) =>
    (a.enter(r) as Promise<Release>).then((release) => {
      order.push(i);
      return release;
    }),
  );
  const first = await Promise.all(entered.slice(0, 2));
  t.same(order, [0, 1], 'the first two at once');
  t.same(
    reqs.map((r) => r.paused),
    [false, false, true, true, true],
    'the rest are paused, unread',
  );
  t.same(a.snapshot(), { limit: 2, admitted: 2, waiting: 3, refused: 0 });
  first[0]();
  first[0](); // a second call is ignored
  const third = await entered[2];
  t.same(order, [0, 1, 2], 'a freed place goes to the earliest waiting request');
  t.same(a.snapshot().waiting, 2);
  first[1]();
  third();
  const rest = await Promise.all(entered.slice(3));
  t.same(order, [0, 1, 2, 3, 4]);
  for (const r of rest) r();
  t.same(a.snapshot(), { limit: 2, admitted: 0, waiting: 0, refused: 0 }, 'all places back');
});

t.test('a full waiting line refuses at once with 503; a client that leaves frees its place', async (t) => {
  const a = new Admission({ limit: 1, maxWaiting: 2 });
  const release = (await a.enter(new FakeRequest())) as Release;
  const w1 = new FakeRequest();
  const w2 = new FakeRequest();
  const p1 = a.enter(w1) as Promise<Release>;
  const p2 = a.enter(w2) as Promise<Release>;
  await t.rejects(a.enter(new FakeRequest()), { status: 503, message: /queue is full: 2 requests are waiting/ });
  t.equal(a.snapshot().refused, 1);
  w1.emit('close');
  await t.rejects(p1, { status: 499, message: /went away/ }, 'the leaver is told, not admitted');
  t.equal(a.snapshot().waiting, 1);
  release();
  const r2 = await p2;
  t.pass('the next waiting request got the place');
  r2();
});

t.test('close() refuses every waiting request and every later one; admitted ones finish', async (t) => {
  const a = new Admission({ limit: 1, maxWaiting: 5 });
  const release = (await a.enter(new FakeRequest())) as Release;
  const waiting = [a.enter(new FakeRequest()), a.enter(new FakeRequest())] as Promise<Release>[];
  a.close();
  for (const p of waiting) await t.rejects(p, { status: 503, message: /shutting down/ });
  await t.rejects(a.enter(new FakeRequest()), { status: 503, message: /shutting down/ });
  release();
  t.same(a.snapshot(), { limit: 1, admitted: 0, waiting: 0, refused: 0 });
  t.throws(() => new Admission({ limit: 0, maxWaiting: 1 }), RangeError);
});
