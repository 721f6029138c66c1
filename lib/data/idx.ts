/**
 * IDX files (the MNIST format): a 4-byte magic `00 00 <type> <ndim>`, `ndim` big-endian u32
 * dimensions, then the payload, row-major. Files may be gzip-compressed (detected by the
 * 1f 8b magic, not by the name). Only the unsigned-byte type (0x08) is accepted: it is the
 * only one MNIST, Fashion-MNIST and their kin use.
 *
 * The file is untrusted. The header is read and checked first; the size it implies is bounded
 * (`maxBytes`) before anything is allocated, and memory never follows the header's word alone:
 * a raw file's payload is allocated only once the file's real size agrees with the header, and
 * a gzip stream is inflated chunk by chunk and stopped as soon as it yields more bytes than the
 * header implies (a 5 MB gzip of 5 GiB of zeros costs a few KiB of inflating, not 5 GiB).
 *
 * A malformed file is a ConvkitError 'ND_FORMAT' naming the file and the byte offset where it
 * went wrong; offsets past a gzip layer are offsets into the decompressed stream.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { constants as bufferConstants } from 'node:buffer';
import { createGunzip } from 'node:zlib';
import { ConvkitError } from '../errors.js';

export interface IdxArray {
  /** The dimensions from the header, e.g. [60000, 28, 28]. */
  readonly dims: number[];
  /** The payload: exactly product(dims) bytes. */
  readonly data: Uint8Array;
}

export interface IdxOptions {
  /** Rejects files of another rank. */
  expectNdim?: number;
  /** The largest payload (bytes) the header may imply; default 4 GiB (or Node's Buffer limit, if lower). */
  maxBytes?: number;
}

/** The default bound on a header-implied payload: far above any IDX data set in use (EMNIST is 0.6 GB). */
export const MAX_IDX_BYTES = Math.min(bufferConstants.MAX_LENGTH, 2 ** 32);

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

/** 4 magic bytes + at most 255 dimensions of 4 bytes. */
const MAX_HEADER = 4 + 4 * 255;
const READ_CHUNK = 1 << 20;
/** Small input chunks keep the reported offset of a corrupt stream, and the overshoot of a bomb, within a few KiB. */
const INPUT_CHUNK = 1 << 14;
const OUTPUT_CHUNK = 1 << 16;

interface Header {
  dims: number[];
  headerBytes: number;
  /** headerBytes + product(dims): the exact size of a well-formed file. */
  expected: number;
  /** "(6 x 7 + 12 header)", for messages. */
  spelled: string;
}

function formatError(file: string, message: string, cause?: unknown): ConvkitError {
  return new ConvkitError('ND_FORMAT', `${file}: ${message}`, cause === undefined ? undefined : { cause });
}

function checkOptions(opts: IdxOptions): number {
  const max = opts.maxBytes ?? MAX_IDX_BYTES;
  if (!Number.isSafeInteger(max) || max < 0)
    throw new ConvkitError('ND_ARG', `readIdx: 'maxBytes' must be a non-negative integer, got ${String(max)}`);
  return max;
}

/**
 * The header at the start of `bytes`, or null when more bytes are needed and `complete` is
 * false (the stream has not ended yet). `complete` means `bytes` is everything there is.
 */
function readHeader(bytes: Uint8Array, file: string, opts: IdxOptions, where: string, complete: boolean): Header | null {
  if (bytes.length < 4) {
    if (!complete) return null;
    throw formatError(file, `the file ends at byte ${bytes.length}${where}, inside the 4-byte IDX magic`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const hex = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw formatError(file, `bad IDX magic ${hex} at byte 0${where}: expected 00 00 08 <ndim>`);
  }
  const type = bytes[2]!;
  if (type !== 0x08) {
    const name = TYPE_NAMES[type] ? `${TYPE_NAMES[type]} data` : 'an unknown type';
    throw formatError(
      file,
      `IDX type byte 0x${type.toString(16).padStart(2, '0')} at byte 2${where} means ${name}; only 0x08 (unsigned byte) is supported`,
    );
  }
  const ndim = bytes[3]!;
  if (ndim === 0) throw formatError(file, `IDX dimension count at byte 3${where} is 0`);
  if (opts.expectNdim !== undefined && ndim !== opts.expectNdim)
    throw formatError(
      file,
      `IDX dimension count at byte 3${where} is ${ndim}, expected ${opts.expectNdim} (magic 0x0000080${opts.expectNdim})`,
    );
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    if (!complete) return null;
    throw formatError(
      file,
      `the header ends at byte ${bytes.length}${where}, expected ${headerBytes} header bytes (4 magic + ${ndim} x 4 dimensions)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let payload = 1;
  for (let i = 0; i < ndim; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    payload *= d;
  }
  // A product of u32s stays exact while it is a safe integer, and any 0 makes it 0; past 2^53 it
  // is only an approximation, which is enough to refuse it.
  const max = checkOptions(opts);
  if (!Number.isSafeInteger(payload) || payload > max)
    throw formatError(
      file,
      `the dimensions ${dims.join(' x ')} (bytes 4..${headerBytes}${where}) imply ${payload} payload bytes, more than the limit of ${max} (readIdx's maxBytes)`,
    );
  return { dims, headerBytes, expected: headerBytes + payload, spelled: `(${dims.join(' x ')} + ${headerBytes} header)` };
}

function tooShort(file: string, h: Header, length: number, where: string): ConvkitError {
  return formatError(file, `payload ends at byte ${length}${where}, expected ${h.expected} bytes ${h.spelled}`);
}

function tooLong(file: string, h: Header, length: number | null, where: string, extra = ''): ConvkitError {
  const count = length === null ? 'trailing bytes' : `${length - h.expected} trailing bytes`;
  return formatError(file, `${count} start at byte ${h.expected}${where}, expected exactly ${h.expected} bytes ${h.spelled}${extra}`);
}

/** Reads an IDX file, gzip-compressed or raw. */
export async function readIdx(file: string, opts: IdxOptions = {}): Promise<IdxArray> {
  checkOptions(opts);
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const head = await readAt(fh, file, Math.min(MAX_HEADER, size), 0);
    if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return await gunzipIdx(fh, file, size, opts);
    const h = readHeader(head, file, opts, '', head.length === size)!;
    if (size < h.expected) throw tooShort(file, h, size, '');
    if (size > h.expected) throw tooLong(file, h, size, '');
    return { dims: h.dims, data: await readAt(fh, file, size - h.headerBytes, h.headerBytes) };
  } finally {
    await fh.close();
  }
}

/**
 * Parses IDX bytes already in memory. `file` names the source in messages; `gzip` says the
 * offsets are into a decompressed stream.
 */
export function parseIdx(bytes: Uint8Array, file: string, opts: IdxOptions & { gzip?: boolean } = {}): IdxArray {
  const where = opts.gzip ? ' of the decompressed stream' : '';
  const h = readHeader(bytes, file, opts, where, true)!;
  if (bytes.length < h.expected) throw tooShort(file, h, bytes.length, where);
  if (bytes.length > h.expected) throw tooLong(file, h, bytes.length, where);
  return { dims: h.dims, data: bytes.subarray(h.headerBytes) };
}

/** `length` bytes of the file from `position`; the file is known to be at least that long. */
async function readAt(fh: FileHandle, file: string, length: number, position: number): Promise<Uint8Array> {
  const data = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(data, done, Math.min(READ_CHUNK, length - done), position + done);
    if (bytesRead === 0)
      throw formatError(file, `the file shrank while being read: ended at byte ${position + done}, expected at least ${position + length}`);
    done += bytesRead;
  }
  return data;
}

/**
 * Streams the file through zlib (on libuv's pool, so the event loop stays free), parses the
 * header from the first bytes out, and keeps at most the header-implied number of bytes: the
 * first byte beyond it stops the inflate with an error. The stream is still read to its end
 * when it is not too long, so a bad CRC or garbage after the member is reported.
 */
async function gunzipIdx(fh: FileHandle, file: string, size: number, opts: IdxOptions): Promise<IdxArray> {
  const where = ' of the decompressed stream';
  const gunzip = createGunzip({ chunkSize: OUTPUT_CHUNK });
  let header: Header | null = null;
  let head = new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  let stop: ConvkitError | null = null;

  const stopWith = (e: unknown): void => {
    if (stop) return;
    stop = e instanceof ConvkitError ? e : formatError(file, String(e), e);
    gunzip.destroy();
  };
  gunzip.on('data', (c: Buffer) => {
    if (stop) return;
    try {
      if (!header) {
        const merged = new Uint8Array(head.length + c.length);
        merged.set(head);
        merged.set(c, head.length);
        header = readHeader(merged, file, opts, where, false);
        if (!header) {
          head = merged; // still shorter than the header (at most MAX_HEADER bytes)
          return;
        }
        c = Buffer.from(merged.buffer, merged.byteOffset, merged.byteLength);
      }
      if (total + c.length > header.expected)
        throw tooLong(file, header, null, where, `; inflating stopped at compressed byte ${gunzip.bytesWritten} of ${size}`);
      chunks.push(c);
      total += c.length;
    } catch (e) {
      stopWith(e);
    }
  });
  let zlibError: NodeJS.ErrnoException | null = null;
  const finished = new Promise<void>((resolve) => {
    gunzip.once('end', resolve);
    gunzip.once('close', resolve);
    gunzip.once('error', (e) => {
      zlibError = e as NodeJS.ErrnoException;
      resolve();
    });
  });

  let pos = 0;
  while (pos < size && !stop && !zlibError) {
    const buf = Buffer.allocUnsafe(Math.min(INPUT_CHUNK, size - pos));
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
    if (!gunzip.write(buf.subarray(0, bytesRead)))
      await new Promise<void>((r) => {
        const done = (): void => {
          gunzip.off('drain', done);
          gunzip.off('close', done);
          r();
        };
        gunzip.on('drain', done);
        gunzip.on('close', done);
      });
  }
  if (!stop && !zlibError) gunzip.end();
  await finished;
  if (stop) throw stop;
  if (zlibError) throw zlibFailure(file, size, pos, gunzip.bytesWritten, total, zlibError);

  const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
  if (!header) readHeader(head, file, opts, where, true);
  const h = header!;
  if (total < h.expected) throw tooShort(file, h, total, where);
  return { dims: h.dims, data: all.subarray(h.headerBytes) };
}

function zlibFailure(file: string, size: number, fed: number, consumed: number, total: number, e: NodeJS.ErrnoException): ConvkitError {
  const reason = e.message;
  if (e.code === 'Z_BUF_ERROR')
    return formatError(
      file,
      `the gzip stream is truncated: the compressed file ends at byte ${size} before the end of its deflate data (${reason}); ${total} bytes were decompressed`,
      e,
    );
  // zlib counts input only for completed calls: the fault lies between what it had consumed
  // and what had been fed to it.
  const to = Math.max(consumed, fed);
  const at = consumed === to ? `at compressed byte ${consumed}` : `between compressed bytes ${consumed} and ${to}`;
  return formatError(file, `the gzip stream is corrupt ${at} of ${size} (${reason}); ${total} bytes were decompressed before the error`, e);
}
