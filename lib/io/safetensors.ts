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
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { ArgumentError, ConvkitError, ShapeError, fmtShape } from '../errors.js';
import { clip, describeValue } from './describe.js';
import { writeFileAtomic } from './durable-write.js';

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
const WRITABLE = {
  F64: Float64Array,
  F32: Float32Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  U8: Uint8Array,
  I8: Int8Array,
} as const;

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

interface HeaderEntry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** A checked header: where the data starts and every tensor's place in it, in data order. */
export interface SafetensorsHeader {
  metadata: Record<string, string>;
  entries: HeaderEntry[];
  /** The file byte where the tensors' data starts (8 + the header length). */
  dataStart: number;
}

/** The header length at byte 0, checked against the file size and MAX_HEADER_BYTES. */
function headerLength(file: string, prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8) throw bad(file, `the file is ${fileSize} bytes, shorter than the 8-byte header length at byte 0`);
  const n64 = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(fileSize - 8))
    throw bad(
      file,
      `the header length ${n64} at byte 0 runs past the end of the file: the header would end at byte ${8n + n64} but the file is ${fileSize} bytes`,
    );
  const n = Number(n64);
  if (n > MAX_HEADER_BYTES) throw bad(file, `the header length ${n} at byte 0 exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  return n;
}

/**
 * Parses and checks the JSON header (the bytes 8..8+n of a file of `fileSize` bytes): every
 * field is type-checked without recursing into it, and the tensors must tile the data exactly.
 */
function parseHeader(file: string, json: Uint8Array, fileSize: number): SafetensorsHeader {
  const dataStart = 8 + json.length;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    throw bad(file, `the header (bytes 8..${dataStart}) is not valid UTF-8 JSON: ${clip((e as Error).message, 200)}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw bad(file, `the header (bytes 8..${dataStart}) must be a JSON object`);

  let metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      metadata = checkMetadata(file, value);
      continue;
    }
    const at = `tensor ${JSON.stringify(clip(name))} (header at byte 8)`;
    if (value === null || typeof value !== 'object' || Array.isArray(value))
      throw bad(file, `${at} must be an object, got ${describeValue(value)}`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPES, dtype)) throw bad(file, `${at} has unknown dtype ${describeValue(dtype)}`);
    // typeof first: a nested array must be refused without being looked into.
    if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0))
      throw bad(file, `${at} has a bad shape ${describeValue(shape)}: expected a flat array of non-negative integers`);
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
    )
      throw bad(file, `${at} has bad data_offsets ${describeValue(offsets)}: expected [begin, end]`);
    const [begin, end] = offsets as [number, number];
    if (end < begin) throw bad(file, `${at} has data_offsets [${begin}, ${end}] with end before begin`);
    const want = product(shape as number[]) * DTYPES[dtype]!.size;
    if (!Number.isSafeInteger(want) || want !== end - begin)
      throw bad(
        file,
        `${at}: shape ${clip(fmtShape(shape as number[]))} of ${dtype} needs ${want} bytes but data_offsets [${begin}, ${end}] span ${end - begin} (file bytes ${dataStart + begin}..${dataStart + end})`,
      );
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }

  const dataLength = fileSize - dataStart;
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const e of entries) {
    const range = `data_offsets [${e.begin}, ${e.end}] (file bytes ${dataStart + e.begin}..${dataStart + e.end})`;
    const name = JSON.stringify(clip(e.name));
    if (e.end > dataLength) throw bad(file, `tensor ${name}: ${range} run past the end of the file at byte ${fileSize}`);
    if (e.begin < covered)
      throw bad(
        file,
        `tensor ${name}: ${range} overlap the previous tensor, which ends at data offset ${covered} (file byte ${dataStart + covered})`,
      );
    if (e.begin > covered)
      throw bad(file, `tensor ${name}: ${range} leave a gap after data offset ${covered} (file byte ${dataStart + covered})`);
    covered = e.end;
  }
  if (covered !== dataLength)
    throw bad(
      file,
      `the tensors end at data offset ${covered} (file byte ${dataStart + covered}) but the file has ${dataLength - covered} more bytes, up to byte ${fileSize}`,
    );
  return { metadata, entries, dataStart };
}

/** The tensors of a checked header, copied out of `data` (the file's bytes from dataStart on). */
function extract(header: SafetensorsHeader, data: Uint8Array): SafetensorsFile {
  const tensors: Record<string, ReadTensor> = {};
  for (const e of header.entries) {
    // A copy, so the tensor is aligned and independent of the file buffer.
    const copy = new Uint8Array(e.end - e.begin);
    copy.set(data.subarray(e.begin, e.end));
    // defineProperty: a tensor named "__proto__" must stay a plain entry.
    Object.defineProperty(tensors, e.name, {
      value: { dtype: e.dtype, shape: e.shape, data: DTYPES[e.dtype]!.make(copy.buffer) },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { tensors, metadata: header.metadata };
}

/** Reads `length` bytes at `position`, or fails naming where the file ended. */
async function readExactly(fh: FileHandle, file: string, length: number, position: number): Promise<Uint8Array> {
  let buf: Uint8Array;
  try {
    buf = new Uint8Array(length);
  } catch (e) {
    throw new ConvkitError('ND_OOM', `${file}: cannot allocate ${length} bytes for the data at byte ${position}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, Math.min(1 << 24, length - done), position + done);
    if (bytesRead === 0)
      throw bad(file, `the file shrank while being read: it ended at byte ${position + done}, expected ${position + length}`);
    done += bytesRead;
  }
  return buf;
}

/**
 * Reads and checks only the header of a safetensors file (cheap whatever the file's size):
 * metadata and the tensors' dtypes, shapes and places.
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const prefix = await readExactly(fh, path, Math.min(8, size), 0);
    const n = headerLength(path, prefix, size);
    return parseHeader(path, await readExactly(fh, path, n, 8), size);
  } finally {
    await fh.close();
  }
}

/**
 * The file's tensors and metadata, after checking every header field against the file. The
 * header is read and checked before the data, so a bad file costs no more than its header.
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  checkLittleEndian('readSafetensors');
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const prefix = await readExactly(fh, path, Math.min(8, size), 0);
    const n = headerLength(path, prefix, size);
    const header = parseHeader(path, await readExactly(fh, path, n, 8), size);
    return extract(header, await readExactly(fh, path, size - header.dataStart, header.dataStart));
  } finally {
    await fh.close();
  }
}

/** Parses safetensors bytes already in memory; `file` names the source in messages. */
export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  const n = headerLength(file, bytes, bytes.length);
  const header = parseHeader(file, bytes.subarray(8, 8 + n), bytes.length);
  return extract(header, bytes.subarray(header.dataStart));
}

function checkMetadata(file: string, value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw bad(file, `"${METADATA_KEY}" (header at byte 8) must be an object of strings, got ${describeValue(value)}`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string')
      throw bad(file, `"${METADATA_KEY}".${JSON.stringify(clip(k))} (header at byte 8) must be a string, got ${describeValue(v)}`);
  }
  return { ...(value as Record<string, string>) };
}

/** Checks the tensors and returns them in layout order: larger elements first (keeps alignment), else as given. */
function layoutOrder(op: string, tensors: Record<string, SafetensorsEntry>): [string, SafetensorsEntry][] {
  if (tensors === null || typeof tensors !== 'object')
    throw new ArgumentError(`${op}: 'tensors' must be an object of { dtype, shape, data }`);
  const list = Object.entries(tensors);
  for (const [name, t] of list) {
    if (name === METADATA_KEY || name.length === 0) throw new ArgumentError(`${op}: ${JSON.stringify(clip(name))} cannot be a tensor name`);
    const ctor = WRITABLE[t?.dtype as WritableDType];
    if (!ctor)
      throw new ArgumentError(
        `${op}: tensor "${name}" has dtype ${describeValue(t?.dtype)}; writable dtypes are ${Object.keys(WRITABLE).join(', ')}`,
      );
    if (!(t.data instanceof ctor))
      throw new ArgumentError(
        `${op}: tensor "${name}" is ${t.dtype} so its data must be a ${ctor.name}, got ${(t.data as object)?.constructor?.name}`,
      );
    if (!Array.isArray(t.shape) || !t.shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0))
      throw new ArgumentError(`${op}: tensor "${name}" has a bad shape ${describeValue(t.shape)}`);
    if (product(t.shape) !== t.data.length)
      throw new ShapeError(
        `${op}: tensor "${name}" has shape ${fmtShape(t.shape)} (${product(t.shape)} elements) but ${t.data.length} values`,
      );
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
export function encodeSafetensors(
  tensors: Record<string, SafetensorsEntry>,
  metadata?: Record<string, string>,
  op = 'encodeSafetensors',
): Uint8Array[] {
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
export async function writeSafetensors(
  path: string,
  tensors: Record<string, SafetensorsEntry>,
  metadata?: Record<string, string>,
): Promise<void> {
  const chunks = encodeSafetensors(tensors, metadata, 'writeSafetensors');
  await writeFileAtomic(path, chunks);
}
