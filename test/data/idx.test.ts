import t, { type Test } from 'tap';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readIdx, parseIdx } from '../../lib/data/index.js';
import { rng } from '../helpers/rng.js';

/** A raw IDX file of unsigned bytes with the given dims and payload. */
function idxBytes(dims: number[], payload: Uint8Array, magic?: number[]): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.set(magic ?? [0, 0, 0x08, dims.length], 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, payload]);
}

function noise(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

async function rejectsFormat(t: Test, p: Promise<unknown>, pattern: RegExp, name: string): Promise<void> {
  const err = (await p.then(
    () => null,
    (e: unknown) => e,
  )) as (Error & { code?: string }) | null;
  t.ok(err, `${name}: rejected`);
  if (!err) return;
  t.equal(err.code, 'ND_FORMAT', `${name}: code ND_FORMAT (${err.message})`);
  t.match(err.message, /\bbytes? \d+/, `${name}: the message names a byte offset`);
  t.match(err.message, pattern, `${name}: ${err.message}`);
}

t.test('valid raw and gzip files parse to the same dims and payload', async (t) => {
  const dir = t.testdir();
  const payload = noise(3 * 4 * 5, 1);
  const raw = idxBytes([3, 4, 5], payload);
  await writeFile(join(dir, 'a-idx3-ubyte'), raw);
  await writeFile(join(dir, 'a-idx3-ubyte.gz'), gzipSync(raw));
  for (const name of ['a-idx3-ubyte', 'a-idx3-ubyte.gz']) {
    const a = await readIdx(join(dir, name), { expectNdim: 3 });
    t.same(a.dims, [3, 4, 5], name);
    t.same(Array.from(a.data), Array.from(payload), name);
  }
  // gzip is detected by its magic, not by the name.
  await writeFile(join(dir, 'b'), gzipSync(raw));
  t.same((await readIdx(join(dir, 'b'))).dims, [3, 4, 5]);
  // An empty payload is legal when a dimension is 0.
  t.same(parseIdx(idxBytes([0, 28, 28], new Uint8Array(0)), 'x').dims, [0, 28, 28]);
});

t.test('truncated files are rejected at every part of the layout', async (t) => {
  const dir = t.testdir();
  const raw = idxBytes([6, 7], noise(42, 2)); // 12 header + 42 payload bytes
  for (const cut of [0, 1, 3, 4, 7, 11, 12, 13, 40, 53]) {
    const file = join(dir, `cut${cut}`);
    await writeFile(file, raw.subarray(0, cut));
    const where =
      cut < 4
        ? /magic/
        : cut < 12
          ? new RegExp(`header ends at byte ${cut}, expected 12`)
          : new RegExp(`payload ends at byte ${cut}, expected 54 bytes \\(6 x 7 \\+ 12 header\\)`);
    await rejectsFormat(t, readIdx(file), where, `raw cut at ${cut}`);
    t.match(
      (await readIdx(file).catch((e: Error) => e)) as Error,
      { message: new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:`) },
      'names the file',
    );
    // The same truncated IDX inside a valid gzip stream: offsets are in the decompressed stream.
    const gz = join(dir, `cut${cut}.gz`);
    await writeFile(gz, gzipSync(raw.subarray(0, cut)));
    await rejectsFormat(t, readIdx(gz), /of the decompressed stream/, `gzip of raw cut at ${cut}`);
  }
});

t.test('the MNIST message spells out the expected size', async (t) => {
  const bytes = idxBytes([60000, 28, 28], new Uint8Array(0));
  const full = new Uint8Array(47040000);
  full.set(bytes, 0);
  t.throws(() => parseIdx(full, 'train-images-idx3-ubyte.gz', { gzip: true }), {
    code: 'ND_FORMAT',
    message:
      'train-images-idx3-ubyte.gz: payload ends at byte 47040000 of the decompressed stream, expected 47040016 bytes (60000 x 28 x 28 + 16 header)',
  });
});

t.test('wrong magic, type, rank and trailing bytes are rejected', async (t) => {
  const dir = t.testdir();
  const payload = noise(10, 3);
  const cases: [string, Buffer, RegExp, number?][] = [
    ['nonzero first byte', idxBytes([10], payload, [1, 0, 8, 1]), /bad IDX magic 01 00 08 01 at byte 0/],
    ['png header', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]), /bad IDX magic 89 50 4e 47 at byte 0/],
    ['float type', idxBytes([10], payload, [0, 0, 0x0d, 1]), /type byte 0x0d at byte 2 means float32 data/],
    ['zero dims', Buffer.from([0, 0, 8, 0]), /dimension count at byte 3 is 0/],
    ['images magic where labels expected', idxBytes([10, 1, 1], payload), /dimension count at byte 3 is 3, expected 1/, 1],
    [
      'trailing bytes',
      Buffer.concat([idxBytes([10], payload), Buffer.from([1, 2, 3])]),
      /3 trailing bytes start at byte 18, expected exactly 18 bytes/,
    ],
  ];
  for (const [name, bytes, pattern, expectNdim] of cases) {
    const file = join(dir, name.replace(/ /g, '-'));
    await writeFile(file, bytes);
    await rejectsFormat(t, readIdx(file, { expectNdim }), pattern, name);
  }
});

t.test('bad gzip streams are rejected with the compressed offset', async (t) => {
  const dir = t.testdir();
  const raw = idxBytes(
    [400, 28, 28],
    noise(400 * 28 * 28, 4).map((v) => v & 0x1f),
  );
  const gz = gzipSync(raw);
  t.ok(gz.length > 100_000, 'the stream spans several read chunks');

  const truncated = join(dir, 'truncated.gz');
  await writeFile(truncated, gz.subarray(0, Math.floor(gz.length / 2)));
  await rejectsFormat(
    t,
    readIdx(truncated),
    new RegExp(`gzip stream is truncated: the compressed file ends at byte ${Math.floor(gz.length / 2)}`),
    'truncated gzip',
  );

  const headerOnly = join(dir, 'header-only.gz');
  await writeFile(headerOnly, gz.subarray(0, 5));
  await rejectsFormat(t, readIdx(headerOnly), /gzip stream is truncated/, 'gzip header cut');

  const corrupt = Buffer.from(gz);
  for (let i = 0; i < 64; i++) corrupt[20_000 + i] ^= 0xa5;
  const corruptFile = join(dir, 'corrupt.gz');
  await writeFile(corruptFile, corrupt);
  await rejectsFormat(
    t,
    readIdx(corruptFile),
    /gzip stream is corrupt (at|between) compressed bytes? \d+ (and \d+ )?of \d+/,
    'corrupt deflate data',
  );

  const badCrc = Buffer.from(gz);
  badCrc[gz.length - 6] ^= 1;
  const badCrcFile = join(dir, 'bad-crc.gz');
  await writeFile(badCrcFile, badCrc);
  await rejectsFormat(t, readIdx(badCrcFile), /gzip stream is corrupt.*incorrect data check/, 'bad CRC');

  const badMethod = Buffer.from(gz);
  badMethod[2] = 7;
  const badMethodFile = join(dir, 'bad-method.gz');
  await writeFile(badMethodFile, badMethod);
  await rejectsFormat(t, readIdx(badMethodFile), /gzip stream is corrupt (at|between) compressed bytes? 0\b/, 'unknown compression method');

  const trailing = join(dir, 'trailing.gz');
  await writeFile(trailing, Buffer.concat([gz, Buffer.from('garbage after the member')]));
  await rejectsFormat(t, readIdx(trailing), /gzip stream is corrupt/, 'garbage after the gzip member');
});

t.test('a missing file is a plain ENOENT', async (t) => {
  const dir = t.testdir();
  await t.rejects(readIdx(join(dir, 'nope')), { code: 'ENOENT' });
});
