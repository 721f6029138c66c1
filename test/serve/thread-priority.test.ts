// Thread priorities for a server's event loop (thread-priority.ts): every thread but the main
// one is lowered, threads started later are caught by the next call, a refusal is counted and
// never thrown, and bad values are coded errors. Linux only (per-thread nice values).
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { deprioritizeOtherThreads, prioritizeThisThread, reniceThreads } from '../../lib/serve/thread-priority.js';

const linux = process.platform === 'linux';

/** The nice value of each thread of this process, from /proc (field 19 of stat). */
function niceByThread(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task').map(Number)) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the parenthesised name; nice is the 19th field overall.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(tid, Number(rest[16]));
    } catch {}
  }
  return out;
}

/** A worker thread that answers with its thread id and nice value whenever asked. */
function probeWorker(): { ask: () => Promise<{ tid: number; nice: number }>; stop: () => Promise<number> } {
  const w = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const os = require('node:os');
     const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
     parentPort.on('message', () => parentPort.postMessage({ tid, nice: os.getPriority(0) }));`,
    { eval: true },
  );
  return {
    ask: () =>
      new Promise((resolve) => {
        w.once('message', resolve);
        w.postMessage('?');
      }),
    stop: () => w.terminate(),
  };
}

t.test(
  'every thread but the main one is lowered; a thread started later is caught by the next call',
  { skip: !linux && 'Linux only' },
  async (t) => {
    const mainBefore = os.getPriority(0);
    const first = deprioritizeOtherThreads(12);
    t.ok(first.supported, 'supported on Linux');
    t.ok(first.changed >= 1, `other threads exist and were lowered (${first.changed})`);
    t.equal(first.failed, 0, 'none refused');
    t.equal(os.getPriority(0), mainBefore, 'the main thread keeps its priority');
    // V8's platform threads (4 GC helpers + 2 of Node's) keep the main thread's priority: a GC pause waits on them.
    const others = [...niceByThread()].filter(([tid]) => tid > process.pid).sort((a, b) => a[0] - b[0]);
    t.ok(others.length > 6, `more threads than V8's platform ones (${others.length})`);
    for (const [tid, nice] of others.slice(0, 6)) t.equal(nice, mainBefore, `V8 platform thread ${tid} kept at nice ${mainBefore}`);
    for (const [tid, nice] of others.slice(6)) t.ok(nice >= 12, `thread ${tid} at nice ${nice} >= 12`);

    const probe = probeWorker();
    const before = await probe.ask();
    t.equal(before.nice, mainBefore, "a worker started by the main thread starts at the main thread's priority");
    const again = deprioritizeOtherThreads(12);
    t.ok(again.changed >= 1, `the next call lowers the new thread (${again.changed} changed)`);
    t.equal((await probe.ask()).nice, 12, 'the worker thread is now at nice 12');
    t.equal(deprioritizeOtherThreads(12).changed, 0, 'a third call has nothing left to change');
    await probe.stop();
  },
);

t.test('a refusal (a thread that is gone) is counted, never thrown', { skip: !linux && 'Linux only' }, async (t) => {
  // Thread ids are below /proc/sys/kernel/pid_max (at most 2^22): this one cannot exist.
  const gone = 2 ** 30;
  const r = reniceThreads([gone], 12);
  t.same({ changed: r.changed, failed: r.failed }, { changed: 0, failed: 1 });
  t.match(r.firstError, new RegExp(`thread ${gone}`), 'the refusal names the thread');
});

t.test('raising a thread needs a privilege: allowed or refused, it never throws', { skip: !linux && 'Linux only' }, async (t) => {
  // In a worker thread, so the test process's own main thread is left as it was.
  const w = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const os = require('node:os');
     import(${JSON.stringify(new URL('../../dist/serve/thread-priority.js', import.meta.url).href)}).then(({ prioritizeThisThread }) => {
       let r;
       try { r = prioritizeThisThread(-1); } catch (e) { r = { threw: e.message }; }
       parentPort.postMessage({ r, nice: os.getPriority(0) });
     });`,
    { eval: true },
  );
  const { r, nice } = await new Promise<{ r: Record<string, unknown>; nice: number }>((resolve) => w.once('message', resolve));
  await w.terminate();
  t.notOk(r.threw, 'did not throw');
  t.equal(Number(r.changed) + Number(r.failed), 1, `either changed or refused: ${JSON.stringify(r)}`);
  if (r.changed) t.equal(nice, -1, 'allowed here (CAP_SYS_NICE): the thread is at -1');
  else t.equal(nice, os.getPriority(0), "refused: the thread keeps the main thread's priority it started with");
});

t.test('values out of range are ND_ARG', async (t) => {
  for (const bad of [0, 20, 1.5, -3, NaN]) t.throws(() => deprioritizeOtherThreads(bad), { code: 'ND_ARG' }, `deprioritize ${bad}`);
  for (const bad of [0, 5, -21, -1.5]) t.throws(() => prioritizeThisThread(bad), { code: 'ND_ARG' }, `prioritize ${bad}`);
});

t.test(
  'the threads kept are the ones GC work lands on; libuv pool work lands on the lowered ones',
  { skip: !linux && 'Linux only' },
  async (t) => {
    const { pbkdf2 } = await import('node:crypto');
    /** CPU ticks (utime + stime) of each thread but the main one, in thread id order. */
    const ticks = () =>
      new Map(
        readdirSync('/proc/self/task')
          .map(Number)
          .filter((tid) => tid > process.pid)
          .sort((a, b) => a - b)
          .map((tid) => {
            const s = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
            const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
            return [tid, Number(f[11]) + Number(f[12])] as const;
          }),
      );
    const kept = (m: Map<number, number>) => new Set([...m.keys()].slice(0, 6));
    const spent = (a: Map<number, number>, b: Map<number, number>, pick: (tid: number) => boolean) =>
      [...b].filter(([tid]) => pick(tid)).reduce((sum, [tid, v]) => sum + v - (a.get(tid) ?? 0), 0);
    // libuv's pool (where sharp decodes in a server): pbkdf2 runs there.
    const t0 = ticks();
    await Promise.all(Array.from({ length: 8 }, () => new Promise((r) => pbkdf2('x', 'y', 150_000, 32, 'sha256', r))));
    const t1 = ticks();
    const k = kept(t1);
    t.ok(
      spent(t0, t1, (tid) => !k.has(tid)) >= 10,
      `libuv pool work ran on lowered threads (${spent(t0, t1, (tid) => !k.has(tid))} ticks)`,
    );
    t.ok(spent(t0, t1, (tid) => k.has(tid)) <= 2, `and next to none on the kept ones (${spent(t0, t1, (tid) => k.has(tid))} ticks)`);
    // Garbage in the old generation: V8's helpers mark and sweep it.
    let keep: object[] = [];
    for (let i = 0; i < 3e6; i++) {
      keep.push({ a: i, b: [i] });
      if (keep.length > 5e5) keep = [];
    }
    await new Promise((r) => setTimeout(r, 200));
    const t2 = ticks();
    t.ok(spent(t1, t2, (tid) => k.has(tid)) >= 1, `GC helper work ran on the kept threads (${spent(t1, t2, (tid) => k.has(tid))} ticks)`);
  },
);
