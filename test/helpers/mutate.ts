/**
 * Seeded byte mutations for the file fuzzers: the generic ones (bit flips, interesting bytes,
 * truncation, extension, deleted/duplicated/inserted ranges) and the field editors the
 * format-aware mutators build on. Every function takes the random stream, so a seed replays a run.
 */
export type Rand = () => number;

export const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
export const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** Values that tend to break length and index arithmetic. */
export const INTERESTING_U32 = [0, 1, 2, 7, 8, 255, 256, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x20, 0x22, 0x5b, 0x7b, 0x5d, 0x7d];

function copy(b: Uint8Array): Uint8Array {
  return Uint8Array.from(b);
}

/** Where to mutate: usually anywhere, often in the first `head` bytes (the header, where parsers decide). */
function position(r: Rand, length: number, head: number): number {
  if (length === 0) return 0;
  return r() < 0.5 ? Math.floor(r() * Math.min(length, head)) : Math.floor(r() * length);
}

export const GENERIC: Record<string, (r: Rand, b: Uint8Array, head: number) => Uint8Array> = {
  bitflips(r, b, head) {
    const out = copy(b);
    for (let n = int(r, 1, 8); n > 0 && out.length > 0; n--) out[position(r, out.length, head)]! ^= 1 << int(r, 0, 7);
    return out;
  },
  bytes(r, b, head) {
    const out = copy(b);
    for (let n = int(r, 1, 4); n > 0 && out.length > 0; n--) out[position(r, out.length, head)] = pick(r, INTERESTING_BYTES);
    return out;
  },
  u32(r, b, head) {
    const out = copy(b);
    if (out.length < 4) return out;
    const at = Math.min(position(r, out.length, head), out.length - 4);
    new DataView(out.buffer).setUint32(at, pick(r, INTERESTING_U32), r() < 0.5);
    return out;
  },
  truncate(r, b, head) {
    return b.slice(0, r() < 0.5 ? int(r, 0, Math.min(b.length, head)) : int(r, 0, b.length));
  },
  extend(r, b) {
    const extra = new Uint8Array(int(r, 1, 64));
    for (let i = 0; i < extra.length; i++) extra[i] = r() < 0.5 ? 0 : int(r, 0, 255);
    return concat(b, extra);
  },
  deleteRange(r, b, head) {
    const at = position(r, b.length, head);
    return concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + int(r, 1, 64))));
  },
  duplicateRange(r, b, head) {
    const at = position(r, b.length, head);
    const piece = b.subarray(at, Math.min(b.length, at + int(r, 1, 256)));
    return concat(b.subarray(0, at), piece, b.subarray(at));
  },
  insertRandom(r, b, head) {
    const at = position(r, b.length, head);
    const piece = Uint8Array.from({ length: int(r, 1, 32) }, () => int(r, 0, 255));
    return concat(b.subarray(0, at), piece, b.subarray(at));
  },
};

/** One to three generic mutations stacked; returns the bytes and what was done. */
export function mutateBytes(r: Rand, b: Uint8Array, head = 1024): { how: string; bytes: Uint8Array } {
  const names = Object.keys(GENERIC);
  const done: string[] = [];
  let out = b;
  for (let n = r() < 0.7 ? 1 : int(r, 2, 3); n > 0; n--) {
    const name = pick(r, names);
    out = GENERIC[name]!(r, out, head);
    done.push(name);
  }
  return { how: done.join('+'), bytes: out };
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** JSON text nested `depth` deep, arrays or objects, around `leaf`. */
export function nestedJson(depth: number, kind: 'array' | 'object', leaf = '1'): string {
  return kind === 'array' ? '['.repeat(depth) + leaf + ']'.repeat(depth) : '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
}
