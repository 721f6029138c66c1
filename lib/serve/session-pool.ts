/**
 * SessionPool: several InferenceSessions, each in its own worker, behind one run().
 *
 * - isolation 'thread' (default): worker threads, worker i on stream cpu:i. The native intra-op
 *   thread pool is one per process (CONVKIT_NUM_THREADS, read once), so threads share it: the
 *   gain is that several batches run at once and a worker can be terminated alone.
 * - isolation 'process': child processes, each on its own cpu:0 with CONVKIT_NUM_THREADS set to
 *   its share of `threads`, which is the only way to divide the CPU threads among sessions.
 *
 * A request goes to the live worker with the fewest outstanding requests; when every worker
 * holds maxQueue + maxBatchSize, run() rejects with ND_BUSY at once. A worker that dies fails
 * its own outstanding requests (ND_INTERNAL, naming it) and the others keep serving.
 */
import { fork } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ArgumentError, ConvkitError, ShapeError } from '../errors.js';
import { siblingWorkerUrl } from '../data/loader-util.js';
import { AbortedError, BusyError, ClosedError, TimeoutError, errorFromData } from './errors.js';
import type { RunOptions, SessionOptions } from './inference-session.js';
import type { SessionStats } from './stats.js';
import type { Channel, FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';

export interface PoolOptions extends Omit<SessionOptions, 'device'> {
  /** Number of sessions (default 1). */
  workers?: number;
  isolation?: 'thread' | 'process';
  /** CPU threads divided among process workers (default os.availableParallelism()). */
  threads?: number;
}

interface Outstanding {
  resolve: (y: Float32Array) => void;
  reject: (e: Error) => void;
  worker: PoolWorker;
  timer: NodeJS.Timeout | null;
  cleanup: (() => void) | null;
  /**
   * performance.now() past which an answer is too late (Infinity without a timeout). Timers fire
   * after whole milliseconds at best, so an answer arriving after the deadline but before its
   * timer is refused here: the timeout means "no answer within timeoutMs", also below 1 ms.
   */
  deadline: number;
  timeoutMs: number;
}

class PoolWorker {
  alive = true;
  outstanding = 0;
  constructor(
    readonly index: number,
    readonly channel: Channel,
  ) {}
}

/** A worker's end reported once: 'error' and 'exit' can both fire for one death. */
function exitOnce(): { done: (why: string) => void; onExit: (fn: (why: string) => void) => void } {
  let exited: ((why: string) => void) | null = null;
  let gone = false;
  return {
    done: (why) => {
      if (gone) return;
      gone = true;
      exited?.(why);
    },
    onExit: (fn) => void (exited = fn),
  };
}

function threadChannel(url: URL): Channel {
  const w = new Worker(url);
  const { done, onExit } = exitOnce();
  w.on('error', (e) => done(`error: ${e.message}`));
  w.on('exit', (code) => done(`exit code ${code}`));
  return {
    send: (m, transfer) => w.postMessage(m, transfer ?? []),
    onMessage: (fn) => w.on('message', fn),
    onExit,
    kill: async () => void (await w.terminate()),
  };
}

function processChannel(url: URL, threads: number): Channel {
  const child = fork(fileURLToPath(url), [], {
    serialization: 'advanced',
    env: { ...process.env, CONVKIT_NUM_THREADS: String(threads) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { done, onExit } = exitOnce();
  child.on('error', (e) => done(`error: ${e.message}`));
  child.on('exit', (code, sig) => done(sig ? `signal ${sig}` : `exit code ${code}`));
  return {
    send: (m) => {
      if (child.connected) child.send(m);
    },
    onMessage: (fn) => child.on('message', (m) => fn(m as FromWorker)),
    onExit,
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

export class SessionPool {
  private readonly workers: PoolWorker[] = [];
  private readonly pending = new Map<number, Outstanding>();
  private readonly statWaiters = new Map<number, (s: SessionStats | null) => void>();
  private nextId = 1;
  private closing: Promise<void> | null = null;
  private sampleSize = 0;
  /** The input shape of one sample, from the first worker. */
  inputShape: number[] = [];

  private constructor(
    readonly isolation: 'thread' | 'process',
    private readonly cap: number,
    private readonly timeoutMs: number,
  ) {}

  static async create(weights: string, opts: PoolOptions = {}): Promise<SessionPool> {
    const op = 'SessionPool.create';
    if (typeof weights !== 'string' || weights === '') throw new ArgumentError(`${op}: 'weights' must be the path of a weights file`);
    const { workers: n = 1, isolation = 'thread', threads = os.availableParallelism(), ...sessionOpts } = opts;
    if (!Number.isSafeInteger(n) || n < 1 || n > 64)
      throw new ArgumentError(`${op}: 'workers' must be an integer in [1, 64], got ${String(n)}`);
    if (isolation !== 'thread' && isolation !== 'process')
      throw new ArgumentError(`${op}: 'isolation' must be 'thread' or 'process', got ${String(isolation)}`);
    if (!Number.isSafeInteger(threads) || threads < 1)
      throw new ArgumentError(`${op}: 'threads' must be a positive integer, got ${String(threads)}`);
    const cap = (sessionOpts.maxQueue ?? 1024) + (sessionOpts.maxBatchSize ?? 32);
    const pool = new SessionPool(isolation, cap, sessionOpts.timeoutMs ?? 0);
    const url = siblingWorkerUrl(import.meta.url, 'session-worker');
    try {
      await Promise.all(
        Array.from({ length: n }, (_, i) => {
          // Threads share the process's streams: each takes its own. Processes each have cpu:0.
          const device = isolation === 'thread' ? `cpu:${i}` : 'cpu';
          const share = Math.max(1, Math.floor(threads / n) + (i < threads % n ? 1 : 0));
          const ch = isolation === 'thread' ? threadChannel(url) : processChannel(url, share);
          return pool.start(new PoolWorker(i, ch), { weights, device, options: { ...sessionOpts, timeoutMs: 0 } });
        }),
      );
    } catch (e) {
      await pool.kill();
      throw e;
    }
    return pool;
  }

  private start(w: PoolWorker, init: WorkerInit): Promise<void> {
    this.workers.push(w);
    return new Promise<void>((resolve, reject) => {
      w.channel.onMessage((m) => {
        if (m.type === 'ready') {
          this.inputShape = m.inputShape;
          this.sampleSize = m.inputShape.reduce((a, b) => a * b, 1);
          resolve();
        } else if (m.type === 'init-failed') reject(errorFromData(m.error));
        else this.onMessage(w, m);
      });
      w.channel.onExit((why) => {
        reject(new ConvkitError('ND_INTERNAL', `SessionPool: worker ${w.index} ended before it was ready (${why})`));
        this.onExit(w, why);
      });
      w.channel.send({ type: 'init', init });
    });
  }

  private onMessage(w: PoolWorker, m: FromWorker): void {
    if (m.type === 'done' || m.type === 'fail') {
      const o = this.pending.get(m.id);
      if (!o) return; // timed out or aborted here already
      this.finish(m.id, o);
      if (m.type === 'done' && performance.now() > o.deadline)
        o.reject(new TimeoutError(`SessionPool.run: no answer within ${o.timeoutMs} ms`));
      else if (m.type === 'done') o.resolve(m.y);
      else o.reject(errorFromData(m.error));
    } else if (m.type === 'closed') {
      // Drained: it should end by itself now; make sure it does.
      setTimeout(() => void w.channel.kill(), 2000).unref();
    } else if (m.type === 'stats') {
      this.statWaiters.get(m.id)?.(m.stats);
      this.statWaiters.delete(m.id);
    }
  }

  private onExit(w: PoolWorker, why: string): void {
    if (!w.alive) return;
    w.alive = false;
    for (const [id, o] of this.pending)
      if (o.worker === w) {
        this.finish(id, o);
        o.reject(new ConvkitError('ND_INTERNAL', `SessionPool: worker ${w.index} ended (${why}) with this request outstanding`));
      }
  }

  private finish(id: number, o: Outstanding): void {
    this.pending.delete(id);
    o.worker.outstanding--;
    if (o.timer) clearTimeout(o.timer);
    o.cleanup?.();
  }

  /** Live workers (a terminated one drops out). */
  get liveWorkers(): number {
    return this.workers.filter((w) => w.alive).length;
  }

  /** @internal For tests: ends worker i now, as a crash would. */
  async killWorker(i: number): Promise<void> {
    await this.workers[i]?.channel.kill();
  }

  run(input: Float32Array, opts: RunOptions = {}): Promise<Float32Array> {
    const op = 'SessionPool.run';
    if (this.closing) return Promise.reject(new ClosedError(`${op}: the pool is closed`));
    if (!(input instanceof Float32Array)) return Promise.reject(new ArgumentError(`${op}: the input must be a Float32Array`));
    if (input.length !== this.sampleSize)
      return Promise.reject(
        new ShapeError(`${op}: one sample of [${this.inputShape.join(', ')}] is ${this.sampleSize} values, got ${input.length}`),
      );
    const signal = opts.signal;
    if (signal?.aborted) return Promise.reject(new AbortedError(`${op}: aborted before it was queued`, signal.reason));
    let best: PoolWorker | null = null;
    for (const w of this.workers) if (w.alive && (best === null || w.outstanding < best.outstanding)) best = w;
    if (best === null) return Promise.reject(new ConvkitError('ND_INTERNAL', `${op}: no worker is alive`));
    if (best.outstanding >= this.cap) return Promise.reject(new BusyError(`${op}: every worker holds ${this.cap} requests`));
    const w = best;
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    return new Promise<Float32Array>((resolve, reject) => {
      const deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Infinity;
      const o: Outstanding = { resolve, reject, worker: w, timer: null, cleanup: null, deadline, timeoutMs };
      const giveUp = (e: Error) => {
        if (!this.pending.has(id)) return;
        this.finish(id, o);
        w.channel.send({ type: 'cancel', id });
        reject(e);
      };
      if (timeoutMs > 0) o.timer = setTimeout(() => giveUp(new TimeoutError(`${op}: no answer within ${timeoutMs} ms`)), timeoutMs);
      if (signal) {
        const onAbort = () => giveUp(new AbortedError(`${op}: aborted`, signal.reason));
        signal.addEventListener('abort', onAbort, { once: true });
        o.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.pending.set(id, o);
      w.outstanding++;
      // A copy is sent, so the caller keeps its buffer.
      w.channel.send({ type: 'run', id, x: input });
    });
  }

  /** Each live worker's session stats (null for one that did not answer within 1 s). */
  async stats(): Promise<{ index: number; alive: boolean; outstanding: number; stats: SessionStats | null }[]> {
    return Promise.all(
      this.workers.map(async (w) => {
        if (!w.alive) return { index: w.index, alive: false, outstanding: 0, stats: null };
        const id = this.nextId++;
        const stats = await new Promise<SessionStats | null>((resolve) => {
          const t = setTimeout(() => {
            this.statWaiters.delete(id);
            resolve(null);
          }, 1000);
          this.statWaiters.set(id, (s) => {
            clearTimeout(t);
            resolve(s);
          });
          w.channel.send({ type: 'stats', id } as ToWorker);
        });
        return { index: w.index, alive: true, outstanding: w.outstanding, stats };
      }),
    );
  }

  /** Stops taking requests, lets every worker drain its queue, and ends them. */
  close(): Promise<void> {
    this.closing ??= Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (!w.alive) return resolve();
            w.channel.onExit(() => {
              this.onExit(w, 'closed');
              resolve();
            });
            w.channel.send({ type: 'close' });
          }),
      ),
    ).then(() => undefined);
    return this.closing;
  }

  private async kill(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.channel.kill()));
  }
}
