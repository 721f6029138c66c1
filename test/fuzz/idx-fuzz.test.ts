// Seeded fuzzing of the IDX reader, raw and gzip (issue 9): header field edits (magic, type,
// rank, dims up to 2^32-1), payloads cut or grown, then the gzip layer itself: flipped
// compressed bits, CRC and ISIZE edits, truncation, garbage or extra members after the stream,
// and bombs (members of zeros). Each case runs in a child process; every failure must be
// ND_FORMAT, every unmutated file must read, and no child may grow past a small RSS bound.
import t from 'tap';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readIdx } from '../../lib/data/idx.js';
import { checkFuzz, fuzzCases, fuzzSeed, runFileFuzz, type FuzzCase } from '../helpers/file-fuzz.js';
import { INTERESTING_U32, concat, int, mutateBytes, pick, type Rand } from '../helpers/mutate.js';
import { rng } from '../helpers/rng.js';
import { REPO } from '../helpers/transpiled.js';

const MNIST_TEST = join(REPO, '..', 'shared', 'data', 'mnist', 't10k-images-idx3-ubyte.gz');

function idx(dims: number[], payload: Uint8Array): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  head.set([0, 0, 0x08, dims.length]);
  const v = new DataView(head.buffer);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  return concat(head, payload);
}

async function seeds(r: Rand): Promise<Uint8Array[]> {
  const noise = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(r, 0, 255));
  const out = [
    idx([3, 4, 5], noise(60)),
    idx(
      [10],
      Uint8Array.from({ length: 10 }, (_, i) => i),
    ),
    idx([0, 28, 28], new Uint8Array(0)),
  ];
  if (existsSync(MNIST_TEST)) {
    // Four real MNIST digits, as a real file would hold them.
    const real = await readIdx(MNIST_TEST);
    out.push(idx([4, 28, 28], real.data.subarray(0, 4 * 784)));
  } else out.push(idx([4, 28, 28], noise(4 * 784)));
  return out;
}

/** An edit of the IDX layout itself: a header field or the payload's length. */
function mutateIdx(r: Rand, raw: Uint8Array): { how: string; bytes: Uint8Array } {
  const b = Uint8Array.from(raw);
  const v = new DataView(b.buffer);
  const ndim = b[3]!;
  const edits: [string, () => Uint8Array][] = [
    ['magic', () => ((b[int(r, 0, 1)] = int(r, 1, 255)), b)],
    ['type', () => ((b[2] = pick(r, [0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x00, 0xff, int(r, 0, 255)])), b)],
    ['ndim', () => ((b[3] = pick(r, [0, ndim - 1, ndim + 1, 255, int(r, 0, 255)])), b)],
    [
      'dim',
      () => (
        v.setUint32(
          4 + 4 * int(r, 0, ndim - 1),
          pick(r, [...INTERESTING_U32, v.getUint32(4, false) + 1, Math.max(0, v.getUint32(4, false) - 1)]),
          false,
        ),
        b
      ),
    ],
    [
      'all dims huge',
      () => {
        for (let i = 0; i < ndim; i++) v.setUint32(4 + 4 * i, pick(r, [0xffffffff, 0x80000000, 0x10000]), false);
        return b;
      },
    ],
    ['payload cut', () => b.slice(0, int(r, 0, b.length - 1))],
    ['payload grown', () => concat(b, new Uint8Array(int(r, 1, 100)))],
  ];
  const [how, edit] = pick(r, edits);
  return { how, bytes: edit() };
}

/** An edit of the gzip layer around a valid file. */
function mutateGzip(r: Rand, raw: Uint8Array, zeros: Uint8Array): { how: string; bytes: Uint8Array } {
  const gz = Uint8Array.from(gzipSync(raw));
  const v = new DataView(gz.buffer);
  const edits: [string, () => Uint8Array][] = [
    ['compressed bytes', () => mutateBytes(r, gz, 32).bytes],
    ['crc', () => (v.setUint32(gz.length - 8, v.getUint32(gz.length - 8, true) ^ (1 << int(r, 0, 31)), true), gz)],
    ['isize', () => (v.setUint32(gz.length - 4, pick(r, INTERESTING_U32), true), gz)],
    ['cut', () => gz.slice(0, int(r, 0, gz.length - 1))],
    [
      'garbage after',
      () =>
        concat(
          gz,
          Uint8Array.from({ length: int(r, 1, 40) }, () => int(r, 0, 255)),
        ),
    ],
    ['second member', () => concat(gz, gzipSync(raw))],
    ['bomb members', () => concat(gz, ...Array.from({ length: int(r, 1, 8) }, () => zeros))],
    [
      'split members',
      () => {
        const at = int(r, 0, raw.length);
        return concat(gzipSync(raw.subarray(0, at)), gzipSync(raw.subarray(at)));
      },
    ],
  ];
  const [how, edit] = pick(r, edits);
  return { how: `gzip ${how}`, bytes: edit() };
}

t.test('IDX files, raw and gzip, mutated', async (t) => {
  const dir = t.testdir();
  const r = rng(fuzzSeed(0x1d3));
  const base = await seeds(r);
  // 64 MiB of zeros in a 64 KiB member: eight of them would be 512 MiB inflated.
  const zeros = gzipSync(new Uint8Array(64 << 20), { level: 9 });
  const cases: FuzzCase[] = [];
  base.forEach((raw, k) => {
    for (const gz of [false, true]) {
      const file = join(dir, `seed-${k}${gz ? '.gz' : ''}`);
      writeFileSync(file, gz ? gzipSync(raw) : raw);
      cases.push({ kind: 'idx', files: [file], name: `seed ${k}${gz ? ' gzip' : ''}`, valid: true });
    }
  });
  const n = fuzzCases(240);
  for (let i = 0; i < n; i++) {
    const raw = pick(r, base);
    const roll = r();
    let m: { how: string; bytes: Uint8Array };
    if (roll < 0.4) {
      m = mutateIdx(r, raw);
      if (r() < 0.5) m = { how: `${m.how}, gzip`, bytes: gzipSync(m.bytes) };
    } else if (roll < 0.7) m = mutateGzip(r, raw, zeros);
    else {
      m = mutateBytes(r, raw, 64);
      if (r() < 0.3) m = { how: `${m.how}, gzip`, bytes: gzipSync(m.bytes) };
    }
    const options: Record<string, number> = {};
    if (r() < 0.2) options.expectNdim = pick(r, [1, 3]);
    if (r() < 0.1) options.maxBytes = pick(r, [0, 10, 100, 3000]);
    const file = join(dir, `case-${i}`);
    writeFileSync(file, m.bytes);
    cases.push({
      kind: 'idx',
      files: [file],
      name: `${m.how}${Object.keys(options).length ? ` ${JSON.stringify(options)}` : ''}`,
      options,
    });
  }
  const report = await runFileFuzz('test/fuzz/file-reader-child.ts', cases, dir);
  // The bombs inflate to up to 512 MiB; the bound proves they were stopped.
  checkFuzz(t, 'IDX', cases, report, { codes: ['ND_FORMAT'], maxRssBytes: 400 * 2 ** 20 });
  // A check that the mutations reach the parsers at all (a fuzzer whose inputs all pass would prove nothing).
  const mutated = cases.filter((c) => !c.valid).length;
  t.ok((report.errors.ND_FORMAT ?? 0) >= 0.3 * mutated, `mutations are refused (${report.errors.ND_FORMAT} of ${mutated} mutated inputs)`);
});
