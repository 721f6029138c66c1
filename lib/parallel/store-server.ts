/**
 * The TCP store's server: a small key-value map served by rank 0 (on MASTER_PORT) to every rank,
 * as PyTorch's TCPStore. It carries the rendezvous of the process group (Gloo's addresses, NCCL's
 * unique id, arrival keys and barriers). Wire format: store-protocol.ts.
 *
 * Robustness is the point of this file: a malformed request (a field past its frame, bad UTF-8,
 * trailing bytes) or an unknown opcode gets a coded error reply and the connection keeps
 * working; a frame longer than the limit gets its error reply and the connection is closed (the
 * byte stream cannot be resynchronised); a client that disconnects mid-frame or mid-wait just
 * goes away. None of it affects other connections.
 *
 * The listening socket and its connections do not keep the process alive by themselves (a pending
 * wait's timer does): rank 0's script ends when it is done, as a script that forgot to destroy its
 * group should; destroy() is what keeps the store up until every rank has left.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ArgumentError, ConvkitError } from '../errors.js';
import {
  DEFAULT_MAX_FRAME_BYTES,
  FrameError,
  FrameSplitter,
  MAX_KEYS_PER_REQUEST,
  OP_NAMES,
  Op,
  Reader,
  STATUS_OK,
  Writer,
  errorFrame,
} from './store-protocol.js';

export interface StoreServerOptions {
  /** Interface to listen on (default '0.0.0.0', as torchrun's store; tests use '127.0.0.1'). */
  host?: string;
  /** Port (default 0: any free port, read it back from `port`). */
  port?: number;
  /** Bound of one request frame (default 16 MiB). */
  maxFrameBytes?: number;
}

interface Waiter {
  keys: string[];
  done(): void;
}

export class StoreServer {
  readonly #server: Server;
  readonly #data = new Map<string, Buffer>();
  readonly #waiters = new Set<Waiter>();
  readonly #sockets = new Set<Socket>();
  readonly #maxFrame: number;
  #closed = false;

  private constructor(server: Server, maxFrame: number) {
    this.#server = server;
    this.#maxFrame = maxFrame;
  }

  /** Starts listening; resolves once the port is bound (ND_ARG if it cannot be). */
  static async listen(opts: StoreServerOptions = {}): Promise<StoreServer> {
    const port = opts.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new ArgumentError(`StoreServer: port must be an integer in [0, 65535], got ${String(port)}`);
    const maxFrame = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isInteger(maxFrame) || maxFrame < 16 || maxFrame > 0xffffffff)
      throw new ArgumentError(`StoreServer: maxFrameBytes must be an integer in [16, 2^32), got ${String(maxFrame)}`);
    const server = createServer();
    const store = new StoreServer(server, maxFrame);
    server.on('connection', (s) => store.#serve(s));
    server.unref();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new ConvkitError('ND_ARG', `StoreServer: cannot listen on ${opts.host ?? '0.0.0.0'}:${port}: ${err.message}`, { cause: err }),
        ),
      );
      server.listen(port, opts.host ?? '0.0.0.0', () => resolve());
    });
    return store;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Connections open now (tests check that a vanished client is cleaned up). */
  get connections(): number {
    return this.#sockets.size;
  }

  /**
   * Stops accepting and closes every connection. With `graceMs`, first gives connected clients
   * that long to finish and disconnect by themselves (rank 0 keeps serving the others' last
   * replies, such as a timeout that names the missing ranks), then closes what is left and ends
   * pending waits. Idempotent.
   */
  async close(opts: { graceMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closing = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const deadline = Date.now() + (opts.graceMs ?? 0);
    while (this.#sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // Destroying a socket cancels its pending waits (their timers included) through its 'close'.
    for (const s of this.#sockets) s.destroy();
    await closing;
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    socket.unref();
    const splitter = new FrameSplitter(this.#maxFrame);
    // Requests of one connection are answered in order: each waits for the one before it.
    let chain: Promise<void> = Promise.resolve();
    let gone = false;
    const cancels = new Set<() => void>();
    socket.on('data', (chunk: Buffer) => {
      let bodies: Buffer[];
      try {
        bodies = splitter.push(chunk);
      } catch (err) {
        // The framing is broken: answer once, then close (in order, after earlier replies).
        const msg = (err as Error).message;
        chain = chain.then(() => {
          if (!gone) socket.end(errorFrame('ND_FORMAT', msg));
        });
        socket.pause();
        return;
      }
      for (const body of bodies) {
        chain = chain.then(async () => {
          if (gone) return;
          const reply = await this.#handle(body, cancels);
          if (!gone) socket.write(reply);
        });
      }
    });
    const drop = (): void => {
      gone = true;
      for (const c of cancels) c();
      cancels.clear();
      this.#sockets.delete(socket);
    };
    socket.on('close', drop);
    socket.on('error', () => socket.destroy()); // ECONNRESET from a client that vanished: close follows
  }

  async #handle(body: Buffer, cancels: Set<() => void>): Promise<Buffer> {
    const r = new Reader(body);
    let op = 0;
    try {
      op = r.u8('opcode');
      switch (op) {
        case Op.SET: {
          const key = r.str('key');
          const value = Buffer.from(r.bytes('value'));
          r.end('set');
          this.#put(key, value);
          return ok().frame();
        }
        case Op.GET: {
          const key = r.str('key');
          const timeoutMs = r.u32('timeoutMs');
          r.end('get');
          if (!this.#data.has(key)) await this.#waitFor([key], timeoutMs, cancels, 'get');
          return ok().bytes(this.#data.get(key)!).frame();
        }
        case Op.ADD: {
          const key = r.str('key');
          const delta = r.i64('delta');
          r.end('add');
          const old = this.#data.get(key);
          let base = 0n;
          if (old !== undefined) {
            const text = old.toString('utf8');
            if (!/^-?\d+$/.test(text))
              throw new ConvkitError('ND_ARG', `add: key ${JSON.stringify(key)} holds a value that is not an integer`);
            base = BigInt(text);
          }
          const next = BigInt.asIntN(64, base + delta);
          this.#put(key, Buffer.from(next.toString(), 'utf8'));
          return ok().i64(next).frame();
        }
        case Op.WAIT: {
          const keys = readKeys(r, 'wait');
          const timeoutMs = r.u32('timeoutMs');
          r.end('wait');
          await this.#waitFor(keys, timeoutMs, cancels, 'wait');
          return ok().frame();
        }
        case Op.DELETE: {
          const key = r.str('key');
          r.end('delete');
          return ok()
            .u8(this.#data.delete(key) ? 1 : 0)
            .frame();
        }
        case Op.CHECK: {
          const keys = readKeys(r, 'check');
          r.end('check');
          const w = ok();
          for (const k of keys) w.u8(this.#data.has(k) ? 1 : 0);
          return w.frame();
        }
        default:
          return errorFrame('ND_ARG', `unknown request opcode ${op} (this store knows ${Object.keys(OP_NAMES).join(', ')})`);
      }
    } catch (err) {
      const where = OP_NAMES[op] ?? `opcode ${op}`;
      if (err instanceof FrameError) return errorFrame('ND_FORMAT', `malformed ${where} request: ${err.message}`);
      if (err instanceof ConvkitError) return errorFrame(err.code, err.message);
      return errorFrame('ND_INTERNAL', `${where}: ${(err as Error).message}`);
    }
  }

  #put(key: string, value: Buffer): void {
    this.#data.set(key, value);
    for (const w of [...this.#waiters]) if (w.keys.every((k) => this.#data.has(k))) w.done();
  }

  /** Resolves once every key exists; ND_TIMEOUT naming the missing keys after timeoutMs (0: at once). */
  #waitFor(keys: string[], timeoutMs: number, cancels: Set<() => void>, op: string): Promise<void> {
    if (keys.every((k) => this.#data.has(k))) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer: { id?: NodeJS.Timeout } = {};
      const waiter: Waiter = {
        keys,
        done: () => {
          finish();
          resolve();
        },
      };
      const finish = (): void => {
        clearTimeout(timer.id);
        this.#waiters.delete(waiter);
        cancels.delete(cancel);
      };
      const cancel = (): void => {
        finish();
        reject(new ConvkitError('ND_CLOSED', `${op}: the client disconnected`));
      };
      const expire = (): void => {
        finish();
        const missing = keys.filter((k) => !this.#data.has(k));
        reject(
          new ConvkitError(
            'ND_TIMEOUT',
            `${op}: keys ${missing.map((k) => JSON.stringify(k)).join(', ')} did not appear within ${timeoutMs} ms`,
          ),
        );
      };
      if (timeoutMs === 0) return expire();
      this.#waiters.add(waiter);
      cancels.add(cancel);
      timer.id = setTimeout(expire, timeoutMs);
    });
  }
}

function ok(): Writer {
  return new Writer().u8(STATUS_OK);
}

function readKeys(r: Reader, op: string): string[] {
  const n = r.u32('key count');
  if (n > MAX_KEYS_PER_REQUEST) throw new FrameError(`${op} names ${n} keys, the limit is ${MAX_KEYS_PER_REQUEST}`);
  const keys: string[] = [];
  for (let i = 0; i < n; i++) keys.push(r.str(`key ${i}`));
  return keys;
}
