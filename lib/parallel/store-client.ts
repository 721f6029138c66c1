/**
 * The TCP store's client (every rank, rank 0 included): set, get, add, wait, check, delete over
 * one connection, requests pipelined and answered in order (store-protocol.ts).
 *
 * connect() retries until its deadline because rank 0 may start its server after the others
 * start connecting (torchrun behaves the same). Every request also has a client-side deadline
 * (its own timeout plus a grace period), so a server that vanished without closing the socket
 * gives ND_TIMEOUT instead of a hang; a closed connection rejects everything pending with ND_CLOSED.
 * The socket keeps the process alive only while a request is pending (as convkit's waits do), so
 * a script that forgets to destroy its group still exits.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { ArgumentError, ConvkitError } from '../errors.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameSplitter, Op, Reader, STATUS_OK, Writer, replyError } from './store-protocol.js';

export interface StoreClientOptions {
  host: string;
  port: number;
  /** How long connect() keeps retrying (default 30 s). */
  connectTimeoutMs?: number;
  /** Timeout of get() and wait() when the call names none (default 30 s, as Gloo's and PyTorch's). */
  timeoutMs?: number;
}

interface Pending {
  op: string;
  resolve(body: Reader): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** Extra time the client gives the server past a request's own timeout before giving up on it. */
const GRACE_MS = 5000;
const MAX_TIMEOUT_MS = 0xffffffff;

export class StoreClient {
  readonly #socket: Socket;
  readonly #pending: Pending[] = [];
  readonly timeoutMs: number;
  readonly #where: string;
  #closedError: ConvkitError | null = null;

  private constructor(socket: Socket, where: string, timeoutMs: number) {
    this.#socket = socket;
    this.#where = where;
    this.timeoutMs = timeoutMs;
    socket.unref();
    const splitter = new FrameSplitter(DEFAULT_MAX_FRAME_BYTES);
    socket.on('data', (chunk: Buffer) => {
      let bodies: Buffer[];
      try {
        bodies = splitter.push(chunk);
      } catch (err) {
        this.#fail(new ConvkitError('ND_FORMAT', `store ${where}: ${(err as Error).message}`));
        return;
      }
      for (const b of bodies) {
        const p = this.#pending.shift();
        if (!p) return this.#fail(new ConvkitError('ND_FORMAT', `store ${where}: a reply arrived with no request pending`));
        clearTimeout(p.timer);
        try {
          const r = new Reader(b);
          if (r.u8('status') === STATUS_OK) p.resolve(r);
          else p.reject(replyError(r, p.op));
        } catch (err) {
          p.reject(err as Error);
        }
      }
      if (this.#pending.length === 0) socket.unref();
    });
    socket.on('error', (err) => this.#fail(new ConvkitError('ND_CLOSED', `store ${where}: ${err.message}`, { cause: err })));
    socket.on('close', () => this.#fail(new ConvkitError('ND_CLOSED', `store ${where}: the connection closed`)));
  }

  /** Connects, retrying refused or unreachable attempts until connectTimeoutMs (then ND_TIMEOUT). */
  static async connect(opts: StoreClientOptions): Promise<StoreClient> {
    const { host, port } = opts;
    if (typeof host !== 'string' || host === '')
      throw new ArgumentError(`StoreClient: host must be a non-empty string, got ${String(host)}`);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new ArgumentError(`StoreClient: port must be an integer in [1, 65535], got ${String(port)}`);
    const connectTimeoutMs = checkTimeout('connectTimeoutMs', opts.connectTimeoutMs ?? 30000);
    const timeoutMs = checkTimeout('timeoutMs', opts.timeoutMs ?? 30000);
    const where = `${host}:${port}`;
    const deadline = Date.now() + connectTimeoutMs;
    const errors: string[] = [];
    for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
      try {
        const socket = await attempt(host, port, Math.max(1, deadline - Date.now()));
        return new StoreClient(socket, where, timeoutMs);
      } catch (err) {
        errors.push((err as Error).message);
      }
      if (Date.now() + delay >= deadline) break;
      await new Promise((r) => setTimeout(r, delay));
    }
    throw new ConvkitError(
      'ND_TIMEOUT',
      `store: could not connect to ${where} within ${connectTimeoutMs} ms (last error: ${errors.at(-1)})`,
    );
  }

  async set(key: string, value: Uint8Array | string): Promise<void> {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    await this.#request('set', new Writer().u8(Op.SET).str(checkKey(key)).bytes(bytes), 0);
  }

  /** The key's value, waiting for it up to timeoutMs (ND_TIMEOUT naming the key). */
  async get(key: string, timeoutMs = this.timeoutMs): Promise<Buffer> {
    const t = checkTimeout('timeoutMs', timeoutMs);
    const r = await this.#request('get', new Writer().u8(Op.GET).str(checkKey(key)).u32(t), t);
    return Buffer.from(r.bytes('value'));
  }

  /** Adds delta to the integer at key (missing: 0) and returns the new value. */
  async add(key: string, delta: number): Promise<number> {
    if (!Number.isSafeInteger(delta)) throw new ArgumentError(`store add: delta must be a safe integer, got ${String(delta)}`);
    const r = await this.#request('add', new Writer().u8(Op.ADD).str(checkKey(key)).i64(BigInt(delta)), 0);
    return Number(r.i64('value'));
  }

  /** Resolves once every key exists; ND_TIMEOUT naming the missing keys after timeoutMs. */
  async wait(keys: readonly string[], timeoutMs = this.timeoutMs): Promise<void> {
    const t = checkTimeout('timeoutMs', timeoutMs);
    const w = new Writer().u8(Op.WAIT).u32(keys.length);
    for (const k of keys) w.str(checkKey(k));
    await this.#request('wait', w.u32(t), t);
  }

  /** For each key, whether it exists now. */
  async check(keys: readonly string[]): Promise<boolean[]> {
    const w = new Writer().u8(Op.CHECK).u32(keys.length);
    for (const k of keys) w.str(checkKey(k));
    const r = await this.#request('check', w, 0);
    return keys.map((_, i) => r.u8(`flag ${i}`) === 1);
  }

  async delete(key: string): Promise<boolean> {
    const r = await this.#request('delete', new Writer().u8(Op.DELETE).str(checkKey(key)), 0);
    return r.u8('existed') === 1;
  }

  /** Closes the connection; pending requests reject with ND_CLOSED. Idempotent. */
  close(): void {
    this.#fail(new ConvkitError('ND_CLOSED', `store ${this.#where}: the client was closed`));
  }

  #request(op: string, w: Writer, timeoutMs: number): Promise<Reader> {
    if (this.#closedError) return Promise.reject(new ConvkitError(this.#closedError.code, `store ${op}: ${this.#closedError.message}`));
    return new Promise<Reader>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(new ConvkitError('ND_TIMEOUT', `store ${this.#where}: no reply to ${op} within ${timeoutMs + GRACE_MS} ms`));
      }, timeoutMs + GRACE_MS);
      if (this.#pending.length === 0) this.#socket.ref();
      this.#pending.push({ op, resolve, reject, timer });
      this.#socket.write(w.frame());
    });
  }

  #fail(err: ConvkitError): void {
    if (!this.#closedError) this.#closedError = err;
    this.#socket.destroy();
    for (const p of this.#pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(new ConvkitError(err.code, `store ${p.op}: ${err.message}`));
    }
  }
}

function attempt(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const s = netConnect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('connect timed out'));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      s.setNoDelay(true);
      resolve(s);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      s.destroy();
      reject(err);
    });
  });
}

function checkKey(key: string): string {
  if (typeof key !== 'string' || key === '') throw new ArgumentError(`store: a key must be a non-empty string, got ${JSON.stringify(key)}`);
  return key;
}

function checkTimeout(what: string, ms: number): number {
  if (!Number.isInteger(ms) || ms < 0 || ms > MAX_TIMEOUT_MS - GRACE_MS)
    throw new ArgumentError(
      `store: ${what} must be an integer number of milliseconds in [0, ${MAX_TIMEOUT_MS - GRACE_MS}], got ${String(ms)}`,
    );
  return ms;
}
