// IDX files that lie about their size: a gzip bomb, absurd dimensions, and headers that promise
// more or fewer bytes than the file holds. The reader must answer each with a coded ND_FORMAT
// error, quickly and without inflating or allocating what the header (or the bomb) implies.
import t from 'tap';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readIdx, MAX_IDX_BYTES } from '../../lib/data/idx.js';
import { childEnv, transpiled } from '../helpers/transpiled.js';

function idxHeader(dims: number[]): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.set([0, 0, 0x08, dims.length], 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return head;
}

/**
 * The bomb, made cheaply: a gzip file may hold several members back to back and gunzip
 * concatenates them, so one member of 16 MiB of zeros (16 KiB compressed) repeated `members`
 * times inflates to members x 16 MiB.
 */
function gzipBomb(members: number): Buffer {
  const first = gzipSync(Buffer.concat([idxHeader([1, 28, 28]), Buffer.alloc(784)]));
  const zeros = gzipSync(Buffer.alloc(16 << 20), { level: 9 });
  return Buffer.concat([first, ...Array.from({ length: members }, () => zeros)]);
}

function runChild(file: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [transpiled('test/data/idx-bomb-child.ts'), file], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.once('error', reject);
    p.once('exit', (code, signal) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line) return reject(new Error(`the child exited with ${code ?? signal}: ${out}`));
      resolve(JSON.parse(line) as Record<string, unknown>);
    });
  });
}

t.test('a gzip bomb (header for 1x28x28, then 4 GiB of zeros) is stopped at the size the header implies', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'bomb-idx3-ubyte.gz');
  const bomb = gzipBomb(256);
  await writeFile(file, bomb);
  const inflated = 256 * (16 << 20);
  t.ok(bomb.length < 8 << 20 && inflated >= 4 * 2 ** 30, `the bomb is ${bomb.length} bytes and inflates to ${inflated}`);

  const r = await runChild(file);
  t.equal(r.ok, false, 'rejected');
  t.equal(r.code, 'ND_FORMAT', `coded ND_FORMAT: ${String(r.message)}`);
  t.match(String(r.message), file, 'names the file');
  t.match(
    String(r.message),
    /trailing bytes start at byte 800 of the decompressed stream, expected exactly 800 bytes \(1 x 28 x 28 \+ 16 header\)/,
  );
  const m = /inflating stopped at compressed byte (\d+) of (\d+)/.exec(String(r.message));
  t.ok(m, 'the message says where inflating stopped');
  if (m) {
    t.equal(Number(m[2]), bomb.length, 'out of the whole file');
    t.ok(Number(m[1]) <= bomb.length / 16, `only ${m[1]} of ${bomb.length} compressed bytes were consumed`);
  }
  // An unbounded inflate holds >= 4 GiB; the child's whole process stays far below.
  const rss = Number(r.maxRssBytes);
  t.ok(
    rss > 0 && rss < 512 * 2 ** 20,
    `the child's peak RSS was ${(rss / 2 ** 20).toFixed(0)} MiB (bound 512 MiB; the bomb inflates to 4096 MiB)`,
  );
});

t.test('dimensions whose product is absurd or over maxBytes are refused before anything is allocated', async (t) => {
  const dir = t.testdir();
  const huge = idxHeader([0xffffffff, 0xffffffff, 0xffffffff]);
  const cases: [string, Buffer, object, RegExp][] = [
    [
      'raw, product past 2^53',
      huge,
      {},
      /dimensions 4294967295 x 4294967295 x 4294967295 \(bytes 4\.\.16\) imply .* payload bytes, more than the limit/,
    ],
    ['gzip, product past 2^53', gzipSync(huge), {}, /\(bytes 4\.\.16 of the decompressed stream\) imply .* more than the limit/],
    [
      'raw, 2^48 bytes',
      idxHeader([65536, 65536, 65536]),
      {},
      new RegExp(`imply 281474976710656 payload bytes, more than the limit of ${MAX_IDX_BYTES}`),
    ],
    [
      'raw, over a caller limit',
      Buffer.concat([idxHeader([1000, 28, 28]), Buffer.alloc(784000)]),
      { maxBytes: 784000 - 1 },
      /imply 784000 payload bytes, more than the limit of 783999/,
    ],
  ];
  for (const [name, bytes, opts, pattern] of cases) {
    const file = join(dir, name.replace(/[^a-z0-9]+/gi, '-'));
    await writeFile(file, bytes);
    await t.rejects(readIdx(file, opts), { code: 'ND_FORMAT', message: pattern }, name);
  }
  await t.rejects(readIdx(join(dir, 'x'), { maxBytes: -1 }), { code: 'ND_ARG' }, 'a bad maxBytes is an argument error');
});

t.test('a header that promises more than the file holds fails on the real size, not the promised one', async (t) => {
  const dir = t.testdir();
  // 65535 x 65535 = 4.29e9 bytes promised (within the default limit), 10 bytes given.
  const lie = Buffer.concat([idxHeader([65535, 65535]), Buffer.alloc(10, 7)]);
  const raw = join(dir, 'lie-raw');
  const gz = join(dir, 'lie.gz');
  await writeFile(raw, lie);
  await writeFile(gz, gzipSync(lie));
  const before = process.memoryUsage().arrayBuffers;
  await t.rejects(readIdx(raw), {
    code: 'ND_FORMAT',
    message: /payload ends at byte 22, expected 4294836237 bytes \(65535 x 65535 \+ 12 header\)/,
  });
  await t.rejects(readIdx(gz), {
    code: 'ND_FORMAT',
    message: /payload ends at byte 22 of the decompressed stream, expected 4294836237 bytes/,
  });
  const grown = process.memoryUsage().arrayBuffers - before;
  t.ok(grown < 64 << 20, `array buffers grew by ${grown} bytes, not by the 4 GiB promised`);

  // Longer than promised, raw and gzip: the extra bytes are named with their offset.
  const long = Buffer.concat([idxHeader([10]), Buffer.alloc(30)]);
  await writeFile(join(dir, 'long'), long);
  await writeFile(join(dir, 'long.gz'), gzipSync(long));
  await t.rejects(readIdx(join(dir, 'long')), {
    code: 'ND_FORMAT',
    message: /20 trailing bytes start at byte 18, expected exactly 18 bytes \(10 \+ 8 header\)/,
  });
  await t.rejects(readIdx(join(dir, 'long.gz')), {
    code: 'ND_FORMAT',
    message:
      /trailing bytes start at byte 18 of the decompressed stream, expected exactly 18 bytes.*inflating stopped at compressed byte \d+ of \d+/,
  });

  // The header itself split over gzip output chunks still parses: a valid file behind a 3-member stream.
  const payload = Buffer.from(Array.from({ length: 3 * 5 }, (_, i) => i));
  const whole = Buffer.concat([idxHeader([3, 5]), payload]);
  const split = Buffer.concat([gzipSync(whole.subarray(0, 2)), gzipSync(whole.subarray(2, 7)), gzipSync(whole.subarray(7))]);
  await writeFile(join(dir, 'split.gz'), split);
  const a = await readIdx(join(dir, 'split.gz'));
  t.same(a.dims, [3, 5]);
  t.same(Array.from(a.data), Array.from(payload));
});
