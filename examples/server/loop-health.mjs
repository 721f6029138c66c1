// What stalls the server's event loop, measured in ways that do not depend on quiet cores:
// - delay: monitorEventLoopDelay (what a request feels). Its samples are the intervals between
//   ticks of a resolutionMs timer, so an idle loop reads resolutionMs (p50 10.2 ms at 10, measured;
//   Node's own PR #62935 calls it "an implicit floor of resolution ms"): `eventLoopDelayMs` is
//   that histogram as it comes, `eventLoopLatenessMs` the same less the resolution, how late the
//   loop was;
// - gc: every garbage collection by kind (PerformanceObserver 'gc'), with its count, total and
//   longest pause: a Mark-Compact is a stop-the-world pause of the main thread, whatever the load;
// - mainThread: the main thread's scheduler counters (Linux /proc/self/task/<pid>/schedstat):
//   time it ran, and time it was runnable but waiting for a core (run-queue wait: starvation by
//   other threads and processes, not the server's own work), plus its context switches.
// - stalls: the longest few stalls and when they began (ms into the window), from a 20 ms
//   ticker's lateness: monitorEventLoopDelay gives the size of the worst, not when it was, and
//   "when" tells a stall under load from one in the disconnect storm after it.
// Reset together, so one window covers one load run (/v1/stats?reset=1).
import { readFileSync } from 'node:fs';
import { PerformanceObserver, constants, monitorEventLoopDelay } from 'node:perf_hooks';

const GC_KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'markCompact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incrementalMarking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakCallbacks',
};

/** The main thread's [ran ns, waited-for-a-core ns] and context switches; null off Linux. */
function schedSample() {
  try {
    const [run, wait] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    const status = readFileSync(`/proc/self/task/${process.pid}/status`, 'utf8');
    const field = (name) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { run, wait, voluntary: field('voluntary_ctxt_switches'), involuntary: field('nonvoluntary_ctxt_switches') };
  } catch {
    return null;
  }
}

const TICK_MS = 20;
const STALLS_KEPT = 3;

/** resolutionMs: the histogram's sampling interval (default 10; 1 makes its floor 1 ms). */
export function loopHealth({ resolutionMs = 10 } = {}) {
  const delay = monitorEventLoopDelay({ resolution: resolutionMs });
  delay.enable();
  let stalls = [];
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    const late = now - last - TICK_MS;
    last = now;
    if (late < 1 || (stalls.length === STALLS_KEPT && late <= stalls[STALLS_KEPT - 1].ms)) return;
    stalls.push({ ms: Math.round(late * 10) / 10, atMs: Math.round(now - late - since) });
    stalls.sort((a, b) => b.ms - a.ms);
    stalls.length = Math.min(stalls.length, STALLS_KEPT);
  }, TICK_MS);
  ticker.unref();
  let gc = {};
  let since = performance.now();
  let sched0 = schedSample();
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = GC_KINDS[e.detail?.kind] ?? `kind${e.detail?.kind}`;
      const k = (gc[kind] ??= { count: 0, totalMs: 0, maxMs: 0 });
      k.count++;
      k.totalMs += e.duration;
      k.maxMs = Math.max(k.maxMs, e.duration);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const ms = (ns) => ns / 1e6;
  const round = (x) => Math.round(x * 10) / 10;
  const late = (ns) => round(Math.max(0, ns / 1e6 - resolutionMs));
  return {
    snapshot() {
      const now = schedSample();
      const wallMs = performance.now() - since;
      const gcOut = {};
      for (const [kind, k] of Object.entries(gc)) gcOut[kind] = { count: k.count, totalMs: round(k.totalMs), maxMs: round(k.maxMs) };
      return {
        windowMs: Math.round(wallMs),
        eventLoopDelayMs: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max), mean: ms(delay.mean) },
        eventLoopLatenessMs: {
          p50: late(delay.percentile(50)),
          p99: late(delay.percentile(99)),
          max: late(delay.max),
          resolutionMs,
        },
        gc: gcOut,
        stalls,
        mainThread:
          now && sched0
            ? {
                ranMs: Math.round(ms(now.run - sched0.run)),
                waitedForCoreMs: Math.round(ms(now.wait - sched0.wait)),
                voluntarySwitches: now.voluntary - sched0.voluntary,
                involuntarySwitches: now.involuntary - sched0.involuntary,
              }
            : null,
      };
    },
    reset() {
      delay.reset();
      stalls = [];
      gc = {};
      since = performance.now();
      sched0 = schedSample();
    },
    close() {
      clearInterval(ticker);
      observer.disconnect();
      delay.disable();
    },
  };
}
