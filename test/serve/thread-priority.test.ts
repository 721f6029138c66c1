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
    for (const [tid, nice] of niceByThread()) if (tid !== process.pid) t.ok(nice >= 12, `thread ${tid} at nice ${nice} >= 12`);

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
