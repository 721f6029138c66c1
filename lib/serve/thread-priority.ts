/**
 * Gives the event loop first claim on a core: lowers the scheduling priority (raises the nice
 * value) of every thread of this process but the main one and V8's GC helpers, i.e. convkit's
 * stream executors and intra-op pool, libuv's pool (where sharp decodes) and worker threads.
 *
 * Two scopes: deprioritizeOtherThreads lowers every thread but the event loop's and V8's GC
 * helpers; reniceThreads(tids) lowers given ones, e.g. those a session started (listThreads()
 * before and after InferenceSession.create), as the example server does.
 *
 * Why: a server's main thread needs little CPU but needs it at once. Measured under the AlexNet
 * load test on two cores, the main thread spent 8.8 s of a 15 s run runnable but waiting for a
 * core (/proc schedstat), behind compute threads at the same priority; at nice 10 a busy compute
 * thread weighs about a tenth of the main thread, so the main thread's wake-ups preempt it. The
 * compute threads still take every cycle the main thread leaves idle.
 *
 * Linux only: there a nice value is per thread (setpriority on a thread id, which os.setPriority
 * passes through), and threads a niced thread creates inherit its value. Threads the main thread
 * creates later start at its priority, so a server calls this again after it starts workers (or
 * on a timer, as the example server does); each call changes only threads still above `nice`.
 * Raising a nice value needs no privilege; a thread that exits meanwhile, or a refusal, is
 * counted, never thrown: a priority is an optimisation, not a reason for a server to fail.
 */
import { readdirSync } from 'node:fs';
import os from 'node:os';
import { ArgumentError } from '../errors.js';

export interface PriorityResult {
  /** False where per-thread priorities are not available (not Linux): nothing was changed. */
  supported: boolean;
  /** Threads given the nice value by this call (those already at it or lower are left). */
  changed: number;
  /** Threads that refused or exited before they could be changed. */
  failed: number;
  /** The first refusal's message, for a log line. */
  firstError?: string;
}

/** The thread ids of this process (Linux /proc); null where there is no such listing. */
export function listThreads(): number[] | null {
  if (process.platform !== 'linux') return null;
  try {
    return readdirSync('/proc/self/task').map(Number).filter(Number.isSafeInteger);
  } catch {
    return null;
  }
}

/**
 * Raises each of `tids` to `nice` where it is below; never throws (a thread that exited since
 * it was listed is a refusal). With listThreads() before and after creating a session, it
 * lowers just the threads the session started (its stream executor and compute pool), which is
 * what the example server does: decoding then keeps its share against a load client.
 */
export function reniceThreads(tids: readonly number[], nice: number): PriorityResult {
  const out: PriorityResult = { supported: process.platform === 'linux', changed: 0, failed: 0 };
  if (!out.supported) return out;
  for (const tid of tids) {
    try {
      if (os.getPriority(tid) >= nice) continue;
      os.setPriority(tid, nice);
      out.changed++;
    } catch (e) {
      out.failed++;
      out.firstError ??= `thread ${tid}: ${(e as Error).message}`;
    }
  }
  return out;
}

/** V8's platform threads: --v8-pool-size workers (Node's default 4) and Node's own two (delayed tasks, SIGUSR1). */
function v8PlatformThreads(): number {
  const flag = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)]
    .map((a) => /^--v8-pool-size=(\d+)$/.exec(a))
    .find(Boolean);
  return (flag ? Number(flag[1]) : 4) + 2;
}

/**
 * Lowers every thread but the main one to `nice` (default 10; 1-19, higher is lower priority),
 * except V8's platform threads: a GC pause of the main thread waits for the helpers it shares
 * the work with, so lowering them would make the event loop wait on low-priority threads (a
 * priority inversion). Node starts them before any other thread, so they hold the lowest thread
 * ids after the main one (measured: the GC's CPU time lands on those, libuv's pool work on the
 * next ones). Cheap enough for a timer: one getpriority per thread, a setpriority for new ones.
 */
export function deprioritizeOtherThreads(nice = 10): PriorityResult {
  if (!Number.isSafeInteger(nice) || nice < 1 || nice > 19)
    throw new ArgumentError(`deprioritizeOtherThreads: 'nice' must be an integer in [1, 19], got ${String(nice)}`);
  const tids = listThreads();
  if (tids === null) return { supported: false, changed: 0, failed: 0 };
  // The main thread's id is the process id (Linux: the thread group leader).
  const others = tids.filter((t) => t > process.pid).sort((a, b) => a - b);
  const v8 = new Set(others.slice(0, v8PlatformThreads()));
  return reniceThreads(
    tids.filter((t) => t !== process.pid && !v8.has(t)),
    nice,
  );
}

/**
 * Raises the calling thread (the event loop's, when called from the main thread) to `nice`
 * (-20 to -1). That needs CAP_SYS_NICE (root, or systemd's Nice=, or a container granted it);
 * without it the refusal is returned, not thrown, and the thread keeps its priority. Unlike
 * deprioritizeOtherThreads this also wins the core against other processes (a load client on
 * the same machine, other services).
 */
export function prioritizeThisThread(nice = -5): PriorityResult {
  if (!Number.isSafeInteger(nice) || nice < -20 || nice > -1)
    throw new ArgumentError(`prioritizeThisThread: 'nice' must be an integer in [-20, -1], got ${String(nice)}`);
  if (process.platform !== 'linux') return { supported: false, changed: 0, failed: 0 };
  try {
    // 0 is the calling thread on Linux (a nice value is per thread there).
    if (os.getPriority(0) <= nice) return { supported: true, changed: 0, failed: 0 };
    os.setPriority(0, nice);
    return { supported: true, changed: 1, failed: 0 };
  } catch (e) {
    return { supported: true, changed: 0, failed: 1, firstError: `this thread: ${(e as Error).message}` };
  }
}
