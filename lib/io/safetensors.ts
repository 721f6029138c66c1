/**
 * The safetensors format (huggingface/safetensors), read and written here without a
 * dependency:
 *
 *   bytes 0..8     N, the header length, little-endian u64
 *   bytes 8..8+N   a UTF-8 JSON object { name: { dtype, shape, data_offsets: [begin, end] },
 *                  "__metadata__"?: { string: string } }, padded with spaces so that the data
 *                  starts 8-byte aligned (as the reference writer does)
 *   the rest       the tensors' little-endian bytes; offsets are relative to the byte after
 *                  the header, and the tensors tile it exactly: no gaps, no overlaps
 *
 * Reading treats the file as untrusted: every number in the header is checked before it is
 * used, and a violation is a ConvkitError 'ND_FORMAT' naming the file, the tensor and the
 * byte offset. Writing goes to a temporary file that is fsynced and renamed over the target,
 * so a crash never leaves a half-written file at the target path.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { endianness } from 'node:os';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ArgumentError, ConvkitError, ShapeError, fmtShape } from '../errors.js';

type AnyTypedArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array
  | BigInt64Array
  | BigUint64Array;

interface DTypeInfo {
  size: number;
  make: (buf: ArrayBuffer) => AnyTypedArray;
}

/**
 * The dtypes a file may hold. F16/BF16 come back as their raw 16-bit patterns (Uint16Array)
 * and BOOL as bytes; convkit itself writes F32 and I32.
 */
const DTYPES: Record<string, DTypeInfo> = {
  F64: { size: 8, make: (b) => new Float64Array(b) },
  F32: { size: 4, make: (b) => new Float32Array(b) },
  F16: { size: 2, make: (b) => new Uint16Array(b) },
  BF16: { size: 2, make: (b) => new Uint16Array(b) },
  I64: { size: 8, make: (b) => new BigInt64Array(b) },
  U64: { size: 8, make: (b) => new BigUint64Array(b) },
  I32: { size: 4, make: (b) => new Int32Array(b) },
  U32: { size: 4, make: (b) => new Uint32Array(b) },
  I16: { size: 2, make: (b) => new Int16Array(b) },
  U16: { size: 2, make: (b) => new Uint16Array(b) },
  I8: { size: 1, make: (b) => new Int8Array(b) },
  U8: { size: 1, make: (b) => new Uint8Array(b) },
  BOOL: { size: 1, make: (b) => new Uint8Array(b) },
};

/** The typed array each writable dtype takes. */
const WRITABLE = { F64: Float64Array, F32: Float32Array, I64: BigInt64Array, I32: Int32Array, I16: Int16Array, U8: Uint8Array, I8: Int8Array } as const;

export type WritableDType = keyof typeof WRITABLE;

export interface SafetensorsEntry {
  dtype: WritableDType;
  shape: number[];
  data: Float32Array | Int32Array | Float64Array | BigInt64Array | Int16Array | Uint8Array | Int8Array;
}

export interface ReadTensor {
  dtype: string;
  shape: number[];
  data: AnyTypedArray;
}

export interface SafetensorsFile {
  /** In the order of their data in the file. */
  tensors: Record<string, ReadTensor>;
  metadata: Record<string, string>;
}

/** The reference implementation refuses larger headers; so do we. */
export const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

function bad(file: string, message: string): ConvkitError {
  return new ConvkitError('ND_FORMAT', `${file}: ${message}`);
}

function checkLittleEndian(op: string): void {
  if (endianness() !== 'LE') throw new ConvkitError('ND_INTERNAL', `${op}: safetensors data is little-endian and this host is not`);
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The file's tensors and metadata, after checking every header field against the file. */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  checkLittleEndian('readSafetensors');
  const bytes = await readFile(path);
  return parseSafetensors(bytes, path);
}

/** Parses safetensors bytes already in memory; `file` names the source in messages. */
export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  if (bytes.length < 8) throw bad(file, `the file is ${bytes.length} bytes, shorter than the 8-byte header length at byte 0`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(bytes.length - 8))
    throw bad(file, `the header length ${n64} at byte 0 runs past the end of the file: the header would end at byte ${8n + n64} but the file is ${bytes.length} bytes`);
  const n = Number(n64);
  if (n > MAX_HEADER_BYTES) throw bad(file, `the header length ${n} at byte 0 exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const dataStart = 8 + n;

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (e) {
    throw bad(file, `the header (bytes 8..${dataStart}) is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw bad(file, `the header (bytes 8..${dataStart}) must be a JSON object`);

  let metadata: Record<string, string> = {};
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      metadata = checkMetadata(file, value);
      continue;
    }
    const at = `tensor "${name}" (header at byte 8)`;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw bad(file, `${at} must be an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in DTYPES)) throw bad(file, `${at} has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw bad(file, `${at} has a bad shape ${JSON.stringify(shape)}: expected an array of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0))
      throw bad(file, `${at} has bad data_offsets ${JSON.stringify(offsets)}: expected [begin, end]`);
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw bad(file, `${at} has data_offsets [${begin}, ${end}] with end before begin`);
    const elements = product(shape as number[]);
    const want = elements * DTYPES[dtype]!.size;
    if (!Number.isSafeInteger(want) || want !== end - begin)
      throw bad(file, `${at}: shape ${fmtShape(shape as number[])} of ${dtype} needs ${want} bytes but data_offsets [${begin}, ${end}] span ${end - begin} (file bytes ${dataStart + begin}..${dataStart + end})`);
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }

  const dataLength = bytes.length - dataStart;
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const e of entries) {
    const range = `data_offsets [${e.begin}, ${e.end}] (file bytes ${dataStart + e.begin}..${dataStart + e.end})`;
    if (e.end > dataLength) throw bad(file, `tensor "${e.name}": ${range} run past the end of the file at byte ${bytes.length}`);
    if (e.begin < covered) throw bad(file, `tensor "${e.name}": ${range} overlap the previous tensor, which ends at data offset ${covered} (file byte ${dataStart + covered})`);
    if (e.begin > covered) throw bad(file, `tensor "${e.name}": ${range} leave a gap after data offset ${covered} (file byte ${dataStart + covered})`);
    covered = e.end;
  }
  if (covered !== dataLength)
    throw bad(file, `the tensors end at data offset ${covered} (file byte ${dataStart + covered}) but the file has ${dataLength - covered} more bytes, up to byte ${bytes.length}`);

  const tensors: Record<string, ReadTensor> = {};
  for (const e of entries) {
    // A copy, so the tensor is aligned and independent of the file buffer.
    const copy = new Uint8Array(e.end - e.begin);
    copy.set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    // defineProperty: a tensor named "__proto__" must stay a plain entry.
    Object.defineProperty(tensors, e.name, {
      value: { dtype: e.dtype, shape: e.shape, data: DTYPES[e.dtype]!.make(copy.buffer) },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { tensors, metadata };
}

function checkMetadata(file: string, value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw bad(file, `"${METADATA_KEY}" (header at byte 8) must be an object of strings`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw bad(file, `"${METADATA_KEY}"."${k}" (header at byte 8) must be a string, got ${typeof v}`);
  }
  return { ...(value as Record<string, string>) };
}

/** Checks the tensors and returns them in layout order: larger elements first (keeps alignment), else as given. */
function layoutOrder(op: string, tensors: Record<string, SafetensorsEntry>): [string, SafetensorsEntry][] {
  if (tensors === null || typeof tensors !== 'object') throw new ArgumentError(`${op}: 'tensors' must be an object of { dtype, shape, data }`);
  const list = Object.entries(tensors);
  for (const [name, t] of list) {
    if (name === METADATA_KEY || name.length === 0) throw new ArgumentError(`${op}: ${JSON.stringify(name)} cannot be a tensor name`);
    const ctor = WRITABLE[t?.dtype as WritableDType];
    if (!ctor) throw new ArgumentError(`${op}: tensor "${name}" has dtype ${JSON.stringify(t?.dtype)}; writable dtypes are ${Object.keys(WRITABLE).join(', ')}`);
    if (!(t.data instanceof ctor)) throw new ArgumentError(`${op}: tensor "${name}" is ${t.dtype} so its data must be a ${ctor.name}, got ${(t.data as object)?.constructor?.name}`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new ArgumentError(`${op}: tensor "${name}" has a bad shape ${JSON.stringify(t.shape)}`);
    if (product(t.shape) !== t.data.length)
      throw new ShapeError(`${op}: tensor "${name}" has shape ${fmtShape(t.shape)} (${product(t.shape)} elements) but ${t.data.length} values`);
  }
  return list
    .map((e, i) => [e, i] as const)
    .sort((a, b) => DTYPES[b[0][1].dtype]!.size - DTYPES[a[0][1].dtype]!.size || a[1] - b[1])
    .map(([e]) => e);
}

function checkWriteMetadata(op: string, metadata: Record<string, string> | undefined): void {
  if (metadata === undefined) return;
  if (metadata === null || typeof metadata !== 'object') throw new ArgumentError(`${op}: 'metadata' must be an object of strings`);
  for (const [k, v] of Object.entries(metadata))
    if (typeof v !== 'string') throw new ArgumentError(`${op}: metadata "${k}" must be a string, got ${typeof v}`);
}

/** The header bytes (length prefix included) and the tensors' data in layout order. */
export function encodeSafetensors(tensors: Record<string, SafetensorsEntry>, metadata?: Record<string, string>, op = 'encodeSafetensors'): Uint8Array[] {
  checkLittleEndian(op);
  checkWriteMetadata(op, metadata);
  const ordered = layoutOrder(op, tensors);
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header[METADATA_KEY] = metadata;
  let offset = 0;
  for (const [name, t] of ordered) {
    const end = offset + t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] };
    offset = end;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length), 0);
  return [prefix, json, ...ordered.map(([, t]) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
}

/**
 * Writes `tensors` (and string `metadata`) to `path` atomically: into `path.tmp-<pid>-<random>`,
 * fsynced, then renamed over `path`. On any failure the temporary file is removed and whatever
 * was at `path` before is untouched.
 */
export async function writeSafetensors(path: string, tensors: Record<string, SafetensorsEntry>, metadata?: Record<string, string>): Promise<void> {
  const chunks = encodeSafetensors(tensors, metadata, 'writeSafetensors');
  await writeFileAtomic(path, chunks);
}

/** Writes `chunks` to a temporary file beside `path`, fsyncs it and renames it over `path`. */
export async function writeFileAtomic(path: string, chunks: Uint8Array[]): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  const fh = await open(tmp, 'wx');
  let closed = false;
  try {
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, done, chunk.length - done);
        done += bytesWritten;
      }
    }
    await fh.sync();
    closed = true;
    await fh.close();
    await rename(tmp, path);
  } catch (e) {
    if (!closed) await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await syncDir(dirname(path));
}

/** Makes the rename itself durable; not every platform can fsync a directory, so failures are ignored. */
async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // best effort
  }
}
