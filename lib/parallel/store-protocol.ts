/**
 * The TCP store's wire format, shared by the server and the client (store.ts) and mirrored in C++
 * by the Gloo shim's store client (native/comm/gloo_shim/tcp_store_client.h).
 *
 * Every message is a frame: a little-endian u32 body length, then the body. A request body is
 * one opcode byte followed by its fields; a reply body is a status byte (0 ok, 1 error) followed
 * by the op's result or, for an error, the error's code and message. Strings and byte values are
 * a u32 length and the bytes (keys are UTF-8). Requests on one connection are answered in order.
 *
 *   SET    key, value               -> (nothing)
 *   GET    key, u32 timeoutMs       -> value   (waits for the key up to timeoutMs; 0: no wait)
 *   ADD    key, i64 delta           -> i64     (the new value; stored as decimal text, as PyTorch's TCPStore)
 *   WAIT   u32 n, n keys, u32 ms    -> (nothing), or ND_TIMEOUT naming the missing keys
 *   DELETE key                      -> u8      (1 if it existed)
 *   CHECK  u32 n, n keys            -> n u8    (1 for each key that exists)
 *
 * Why binary and length-prefixed: a frame that claims more than the limit is refused before its
 * body is buffered, and every field is bounds-checked against its frame, so a malformed or hostile
 * request costs the server a coded error reply, never memory or a crash.
 */
import { ConvkitError, type ErrorCode } from '../errors.js';

export const Op = { SET: 1, GET: 2, ADD: 3, WAIT: 4, DELETE: 5, CHECK: 6 } as const;
export type OpCode = (typeof Op)[keyof typeof Op];
export const OP_NAMES: Record<number, string> = { 1: 'set', 2: 'get', 3: 'add', 4: 'wait', 5: 'delete', 6: 'check' };

/** Default bound of one frame's body (a Gloo address list or NCCL id is a few hundred bytes). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Bound of the keys one WAIT or CHECK may name. */
export const MAX_KEYS_PER_REQUEST = 65536;

export const STATUS_OK = 0;
export const STATUS_ERROR = 1;

/** A field that runs past its frame, a bad count, bytes that are not UTF-8. */
export class FrameError extends ConvkitError {
  constructor(message: string) {
    super('ND_FORMAT', message);
  }
}

/** Reads fields of one frame's body, every read checked against its end. */
export class Reader {
  #pos = 0;
  constructor(readonly buf: Buffer) {}
  get offset(): number {
    return this.#pos;
  }
  #need(n: number, what: string): void {
    if (this.#pos + n > this.buf.length)
      throw new FrameError(`${what} at byte ${this.#pos} needs ${n} bytes, the frame has ${this.buf.length - this.#pos} left`);
  }
  u8(what: string): number {
    this.#need(1, what);
    return this.buf.readUInt8(this.#pos++);
  }
  u32(what: string): number {
    this.#need(4, what);
    const v = this.buf.readUInt32LE(this.#pos);
    this.#pos += 4;
    return v;
  }
  i64(what: string): bigint {
    this.#need(8, what);
    const v = this.buf.readBigInt64LE(this.#pos);
    this.#pos += 8;
    return v;
  }
  bytes(what: string): Buffer {
    const n = this.u32(`${what}'s length`);
    this.#need(n, what);
    const v = this.buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }
  str(what: string): string {
    const b = this.bytes(what);
    const s = b.toString('utf8');
    if (!Buffer.from(s, 'utf8').equals(b)) throw new FrameError(`${what} is not valid UTF-8`);
    return s;
  }
  /** Throws unless the whole body was read (trailing bytes mean the sender speaks another format). */
  end(what: string): void {
    if (this.#pos !== this.buf.length)
      throw new FrameError(`${what}: ${this.buf.length - this.#pos} unexpected bytes after byte ${this.#pos}`);
  }
}

/** Builds one frame (length prefix included). */
export class Writer {
  #parts: Buffer[] = [];
  #len = 0;
  #push(b: Buffer): this {
    this.#parts.push(b);
    this.#len += b.length;
    return this;
  }
  u8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeUInt8(v);
    return this.#push(b);
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return this.#push(b);
  }
  i64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(v);
    return this.#push(b);
  }
  bytes(v: Uint8Array): this {
    this.u32(v.length);
    return this.#push(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  }
  str(v: string): this {
    return this.bytes(Buffer.from(v, 'utf8'));
  }
  frame(): Buffer {
    const head = Buffer.alloc(4);
    head.writeUInt32LE(this.#len);
    return Buffer.concat([head, ...this.#parts], 4 + this.#len);
  }
}

/**
 * Splits a byte stream into frame bodies. push() returns the complete bodies so far; a length
 * past `maxFrameBytes` throws FrameError at once (the stream cannot be resynchronised after it).
 */
export class FrameSplitter {
  #pending: Buffer[] = [];
  #pendingLen = 0;
  constructor(readonly maxFrameBytes: number) {}
  /** Bytes received that do not yet form a whole frame (a peer that stopped mid-frame). */
  get buffered(): number {
    return this.#pendingLen;
  }
  push(chunk: Buffer): Buffer[] {
    this.#pending.push(chunk);
    this.#pendingLen += chunk.length;
    const out: Buffer[] = [];
    let buf = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingLen);
    let pos = 0;
    while (buf.length - pos >= 4) {
      const n = buf.readUInt32LE(pos);
      if (n > this.maxFrameBytes) throw new FrameError(`a frame of ${n} bytes exceeds the store's limit of ${this.maxFrameBytes} bytes`);
      if (buf.length - pos < 4 + n) break;
      out.push(buf.subarray(pos + 4, pos + 4 + n));
      pos += 4 + n;
    }
    buf = buf.subarray(pos);
    this.#pending = buf.length ? [buf] : [];
    this.#pendingLen = buf.length;
    return out;
  }
}

/** An error reply's frame. */
export function errorFrame(code: ErrorCode, message: string): Buffer {
  return new Writer().u8(STATUS_ERROR).str(code).str(message).frame();
}

const KNOWN_CODES = new Set<string>(['ND_ARG', 'ND_FORMAT', 'ND_TIMEOUT', 'ND_CLOSED', 'ND_BUSY', 'ND_INTERNAL']);

/** The ConvkitError an error reply carries (an unknown code becomes ND_INTERNAL, keeping the text). */
export function replyError(body: Reader, op: string): ConvkitError {
  const code = body.str('error code');
  const message = body.str('error message');
  return new ConvkitError(KNOWN_CODES.has(code) ? (code as ErrorCode) : 'ND_INTERNAL', `store ${op}: ${message}`);
}
