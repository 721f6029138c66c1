/**
 * IDX files (the MNIST format): a 4-byte magic `00 00 <type> <ndim>`, `ndim` big-endian u32
 * dimensions, then the payload, row-major. Files may be gzip-compressed (detected by the
 * 1f 8b magic, not by the name). Only the unsigned-byte type (0x08) is accepted: it is the
 * only one MNIST, Fashion-MNIST and their kin use.
 *
 * A malformed file is a ConvkitError 'ND_FORMAT' naming the file and the byte offset where it
 * went wrong; offsets past a gzip layer are offsets into the decompressed stream.
 */
import { open } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { ConvkitError } from '../errors.js';

export interface IdxArray {
  /** The dimensions from the header, e.g. [60000, 28, 28]. */
  readonly dims: number[];
  /** The payload: exactly product(dims) bytes. */
  readonly data: Uint8Array;
}

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

const CHUNK = 1 << 16;
/** Small input chunks keep the reported offset of a corrupt stream within a few KiB. */
const INPUT_CHUNK = 1 << 14;

function formatError(file: string, message: string, cause?: unknown): ConvkitError {
  return new ConvkitError('ND_FORMAT', `${file}: ${message}`, cause === undefined ? undefined : { cause });
}

/** Reads an IDX file, gzip-compressed or raw. `expectNdim` rejects files of another rank. */
export async function readIdx(file: string, opts: { expectNdim?: number } = {}): Promise<IdxArray> {
  const bytes = await readMaybeGzip(file);
  return parseIdx(bytes.data, file, { ...opts, gzip: bytes.gzip });
}

/**
 * Parses IDX bytes already in memory. `file` names the source in messages; `gzip` says the
 * offsets are into a decompressed stream.
 */
export function parseIdx(bytes: Uint8Array, file: string, opts: { expectNdim?: number; gzip?: boolean } = {}): IdxArray {
  const where = opts.gzip ? ' of the decompressed stream' : '';
  if (bytes.length < 4)
    throw formatError(file, `the file ends at byte ${bytes.length}${where}, inside the 4-byte IDX magic`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const hex = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw formatError(file, `bad IDX magic ${hex} at byte 0${where}: expected 00 00 08 <ndim>`);
  }
  const type = bytes[2]!;
  if (type !== 0x08) {
    const name = TYPE_NAMES[type] ? `${TYPE_NAMES[type]} data` : 'an unknown type';
    throw formatError(file, `IDX type byte 0x${type.toString(16).padStart(2, '0')} at byte 2${where} means ${name}; only 0x08 (unsigned byte) is supported`);
  }
  const ndim = bytes[3]!;
  if (ndim === 0) throw formatError(file, `IDX dimension count at byte 3${where} is 0`);
  if (opts.expectNdim !== undefined && ndim !== opts.expectNdim)
    throw formatError(file, `IDX dimension count at byte 3${where} is ${ndim}, expected ${opts.expectNdim} (magic 0x0000080${opts.expectNdim})`);
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes)
    throw formatError(file, `the header ends at byte ${bytes.length}${where}, expected ${headerBytes} header bytes (4 magic + ${ndim} x 4 dimensions)`);

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let payload = 1;
  for (let i = 0; i < ndim; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    payload *= d;
  }
  if (!Number.isSafeInteger(payload))
    throw formatError(file, `the dimensions ${dims.join(' x ')} (bytes 4..${headerBytes}${where}) are too large`);
  const expected = headerBytes + payload;
  const spelled = `(${dims.join(' x ')} + ${headerBytes} header)`;
  if (bytes.length < expected)
    throw formatError(file, `payload ends at byte ${bytes.length}${where}, expected ${expected} bytes ${spelled}`);
  if (bytes.length > expected)
    throw formatError(file, `${bytes.length - expected} trailing bytes start at byte ${expected}${where}, expected exactly ${expected} bytes ${spelled}`);
  return { dims, data: bytes.subarray(headerBytes) };
}

/** The file's bytes, gunzipped when it starts with the gzip magic. */
async function readMaybeGzip(file: string): Promise<{ data: Uint8Array; gzip: boolean }> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const head = new Uint8Array(Math.min(2, size));
    await fh.read(head, 0, head.length, 0);
    if (head.length === 2 && head[0] === 0x1f && head[1] === 0x8b) return { data: await gunzipFile(fh, file, size), gzip: true };
    const data = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await fh.read(data, done, Math.min(CHUNK * 16, size - done), done);
      if (bytesRead === 0) throw formatError(file, `the file shrank while being read: ended at byte ${done} of ${size}`);
      done += bytesRead;
    }
    return { data, gzip: false };
  } finally {
    await fh.close();
  }
}

/**
 * Streams the file through zlib in chunks so the event loop is never blocked for long, and so
 * a corrupt stream can be reported with the compressed offset zlib had reached.
 */
async function gunzipFile(fh: import('node:fs/promises').FileHandle, file: string, size: number): Promise<Uint8Array> {
  const gunzip = createGunzip({ chunkSize: CHUNK });
  const chunks: Buffer[] = [];
  let total = 0;
  gunzip.on('data', (c: Buffer) => {
    chunks.push(c);
    total += c.length;
  });
  const finished = new Promise<void>((resolve, reject) => {
    gunzip.once('end', resolve);
    gunzip.once('error', reject);
  });
  finished.catch(() => {}); // observed below; this keeps an early failure from being unhandled

  let failed = false;
  gunzip.once('error', () => (failed = true));
  let pos = 0;
  while (pos < size && !failed) {
    const buf = Buffer.allocUnsafe(Math.min(INPUT_CHUNK, size - pos));
    const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
    if (!gunzip.write(buf.subarray(0, bytesRead)))
      await new Promise<void>((r) => {
        const done = (): void => {
          gunzip.off('drain', done);
          gunzip.off('error', done);
          r();
        };
        gunzip.on('drain', done);
        gunzip.on('error', done);
      });
  }
  if (!failed) gunzip.end();
  try {
    await finished;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const reason = err.message;
    if (err.code === 'Z_BUF_ERROR')
      throw formatError(file, `the gzip stream is truncated: the compressed file ends at byte ${size} before the end of its deflate data (${reason}); ${total} bytes were decompressed`, e);
    // zlib counts input only for completed calls: the fault lies between what it had consumed
    // and what had been fed to it.
    const from = gunzip.bytesWritten;
    const to = Math.max(from, pos);
    const at = from === to ? `at compressed byte ${from}` : `between compressed bytes ${from} and ${to}`;
    throw formatError(file, `the gzip stream is corrupt ${at} of ${size} (${reason}); ${total} bytes were decompressed before the error`, e);
  }
  return total === chunks[0]?.length ? chunks[0]! : Buffer.concat(chunks, total);
}
