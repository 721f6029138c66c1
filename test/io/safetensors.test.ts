import t from 'tap';
import * as fsp from 'node:fs/promises';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, parseSafetensors, encodeSafetensors } from '../../lib/io/index.js';
import { randomArray } from '../helpers/rng.js';

/** A file built byte by byte from the spec: u64 LE header length, JSON header, data. */
function handBuilt(header: object, data: Uint8Array, pad = ' '): Buffer {
  let json = JSON.stringify(header);
  while (json.length % 8 !== 0) json += pad;
  const n = Buffer.byteLength(json);
  const len = Buffer.alloc(8);
  for (let i = 0; i < 8; i++) len[i] = Math.floor(n / 2 ** (8 * i)) & 0xff;
  return Buffer.concat([len, Buffer.from(json, 'utf8'), data]);
}

function leBytes(values: number[], kind: 'f32' | 'i32' | 'f64' | 'u8'): Buffer {
  const size = { f32: 4, i32: 4, f64: 8, u8: 1 }[kind];
  const b = Buffer.alloc(values.length * size);
  values.forEach((v, i) => {
    if (kind === 'f32') b.writeFloatLE(v, i * 4);
    else if (kind === 'i32') b.writeInt32LE(v, i * 4);
    else if (kind === 'f64') b.writeDoubleLE(v, i * 8);
    else b.writeUInt8(v, i);
  });
  return b;
}

t.test('round trip of F32 and I32 tensors with metadata', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'model.safetensors');
  const w = Float32Array.from(randomArray(6 * 1 * 5 * 5, 1));
  const b = Float32Array.from(randomArray(6, 2));
  const steps = Int32Array.from([3, -7, 2147483647]);
  await writeSafetensors(
    file,
    {
      'c1.weight': { dtype: 'F32', shape: [6, 1, 5, 5], data: w },
      'c1.bias': { dtype: 'F32', shape: [6], data: b },
      steps: { dtype: 'I32', shape: [3], data: steps },
    },
    { format: 'pt', note: 'héllo' },
  );
  const back = await readSafetensors(file);
  t.same(Object.keys(back.tensors), ['c1.weight', 'c1.bias', 'steps'], 'tensors come back in layout order');
  t.same(back.tensors['c1.weight']!.shape, [6, 1, 5, 5]);
  t.equal(back.tensors['c1.weight']!.dtype, 'F32');
  t.same(Array.from(back.tensors['c1.weight']!.data as Float32Array), Array.from(w));
  t.same(Array.from(back.tensors['c1.bias']!.data as Float32Array), Array.from(b));
  t.ok(back.tensors.steps!.data instanceof Int32Array);
  t.same(Array.from(back.tensors.steps!.data as Int32Array), [3, -7, 2147483647]);
  t.same(back.metadata, { format: 'pt', note: 'héllo' });

  // The layout the spec and the reference writer give.
  const bytes = await readFile(file);
  const n = Number(bytes.readBigUInt64LE(0));
  t.equal(n % 8, 0, 'the header is padded to a multiple of 8');
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  t.match(bytes.subarray(8, 8 + n).toString('latin1'), /^\{.*\} *$/, 'padded with spaces');
  t.same(header['c1.weight'], { dtype: 'F32', shape: [6, 1, 5, 5], data_offsets: [0, 600] });
  t.same(header['c1.bias'], { dtype: 'F32', shape: [6], data_offsets: [600, 624] });
  t.same(header.steps, { dtype: 'I32', shape: [3], data_offsets: [624, 636] });
  t.equal(bytes.length, 8 + n + 636);
  t.equal(bytes.readFloatLE(8 + n + 600), b[0], 'raw little-endian data at the stated offset');
  t.same((await readdir(dir)).sort(), ['model.safetensors'], 'no temporary file is left');
});

t.test('a file built by hand from the spec reads back', async (t) => {
  const dir = t.testdir();
  // Mixed dtypes, header order differing from data order, a scalar, an empty tensor, no padding.
  const a = leBytes([1.5, -2, 3.25, 4], 'f32');
  const c = leBytes([Math.PI], 'f64');
  const k = leBytes([-5, 6], 'i32');
  const u = leBytes([0, 255, 7], 'u8');
  const header = {
    k: { dtype: 'I32', shape: [2], data_offsets: [40, 48] },
    __metadata__: { format: 'pt' },
    a: { dtype: 'F32', shape: [2, 2], data_offsets: [8, 24] },
    c: { dtype: 'F64', shape: [], data_offsets: [0, 8] },
    empty: { dtype: 'F32', shape: [0, 3], data_offsets: [24, 24] },
    f16: { dtype: 'F16', shape: [2, 4], data_offsets: [24, 40] },
    u: { dtype: 'U8', shape: [3], data_offsets: [48, 51] },
  };
  const f16 = Buffer.alloc(16, 0x3c);
  for (const pad of [' ', '']) {
    const file = join(dir, `hand${pad.length}.safetensors`);
    const json = pad
      ? handBuilt(header, Buffer.concat([c, a, f16, k, u]))
      : Buffer.concat([Buffer.alloc(8), Buffer.from(JSON.stringify(header)), c, a, f16, k, u]);
    if (!pad) json.writeBigUInt64LE(BigInt(Buffer.byteLength(JSON.stringify(header))), 0);
    await writeFile(file, json);
    const f = await readSafetensors(file);
    t.same(Object.keys(f.tensors), ['c', 'a', 'empty', 'f16', 'k', 'u'], 'ordered by data offset');
    t.same(Array.from(f.tensors.a!.data as Float32Array), [1.5, -2, 3.25, 4]);
    t.same(f.tensors.a!.shape, [2, 2]);
    t.equal((f.tensors.c!.data as Float64Array)[0], Math.PI);
    t.same(f.tensors.c!.shape, []);
    t.equal(f.tensors.empty!.data.length, 0);
    t.same(Array.from(f.tensors.k!.data as Int32Array), [-5, 6]);
    t.same(Array.from(f.tensors.u!.data as Uint8Array), [0, 255, 7]);
    t.equal((f.tensors.f16!.data as Uint16Array)[0], 0x3c3c, 'F16 comes back as raw 16-bit patterns');
    t.same(f.metadata, { format: 'pt' });
  }
});

t.test('malformed files are rejected with the file, the tensor and the offset', async (t) => {
  const dir = t.testdir();
  const good = encodeSafetensors({
    w: { dtype: 'F32', shape: [2, 3], data: new Float32Array(6) },
    b: { dtype: 'F32', shape: [3], data: new Float32Array(3) },
  });
  const goodBytes = Buffer.concat(good);
  const n = Number(goodBytes.readBigUInt64LE(0));
  const mk = (header: object, dataLen: number): Buffer => handBuilt(header, Buffer.alloc(dataLen));
  const cases: [string, Buffer, RegExp][] = [
    ['empty', Buffer.alloc(0), /the file is 0 bytes, shorter than the 8-byte header length at byte 0/],
    ['truncated length', goodBytes.subarray(0, 5), /5 bytes, shorter than the 8-byte header length/],
    ['truncated header', goodBytes.subarray(0, 8 + n - 3), new RegExp(`header length ${n} at byte 0 runs past the end of the file`)],
    [
      'truncated data',
      goodBytes.subarray(0, goodBytes.length - 4),
      /tensor "b": data_offsets \[24, 36\] \(file bytes \d+\.\.\d+\) run past the end of the file at byte \d+/,
    ],
    [
      'trailing data',
      Buffer.concat([goodBytes, Buffer.alloc(4)]),
      /the tensors end at data offset 36 \(file byte \d+\) but the file has 4 more bytes/,
    ],
    [
      'huge length',
      (() => {
        const b = Buffer.from(goodBytes);
        b.writeBigUInt64LE(2n ** 63n, 0);
        return b;
      })(),
      /header length 9223372036854775808 at byte 0 runs past/,
    ],
    [
      'altered length',
      (() => {
        const b = Buffer.from(goodBytes);
        b.writeBigUInt64LE(BigInt(n - 8), 0);
        return b;
      })(),
      /the header \(bytes 8\.\.\d+\) is not valid UTF-8 JSON/,
    ],
    [
      'altered header',
      (() => {
        const b = Buffer.from(goodBytes);
        b[9] = 0x7b;
        return b;
      })(),
      /not valid UTF-8 JSON/,
    ],
    ['not an object', handBuilt([1, 2] as unknown as object, Buffer.alloc(0)), /must be a JSON object/],
    [
      'bad utf-8',
      (() => {
        const b = Buffer.from(goodBytes);
        b[12] = 0xff;
        return b;
      })(),
      /not valid UTF-8 JSON/,
    ],
    [
      'unknown dtype',
      mk({ w: { dtype: 'F31', shape: [1], data_offsets: [0, 4] } }, 4),
      /tensor "w" \(header at byte 8\) has unknown dtype "F31"/,
    ],
    ['bad shape', mk({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /tensor "w" .* bad shape \[-1\]/],
    ['bad offsets', mk({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4), /tensor "w" .* bad data_offsets \[0\]/],
    ['reversed offsets', mk({ w: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, 4), /end before begin/],
    [
      'size mismatch',
      mk({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, 12),
      /tensor "w" .*shape \[2, 2\] of F32 needs 16 bytes but data_offsets \[0, 12\] span 12 \(file bytes \d+\.\.\d+\)/,
    ],
    [
      'overlap',
      mk({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12),
      /tensor "b": data_offsets \[4, 12\] .* overlap the previous tensor, which ends at data offset 8 \(file byte \d+\)/,
    ],
    [
      'same range twice',
      mk({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 8),
      /overlap the previous tensor/,
    ],
    [
      'gap',
      mk({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, 12),
      /tensor "b": .* leave a gap after data offset 4/,
    ],
    ['not from 0', mk({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /tensor "a": .* leave a gap after data offset 0/],
    ['bad metadata', mk({ __metadata__: { n: 3 } }, 0), /"__metadata__"\."n" \(header at byte 8\) must be a string/],
  ];
  for (const [name, bytes, pattern] of cases) {
    const file = join(dir, `${name.replace(/ /g, '-')}.safetensors`);
    await writeFile(file, bytes);
    const err = (await readSafetensors(file).catch((e: Error) => e)) as Error & { code?: string };
    t.equal(err?.code, 'ND_FORMAT', `${name}: ND_FORMAT`);
    t.match(err?.message, /\bbytes? \d+/, `${name}: names a byte offset`);
    t.match(err?.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `), `${name}: names the file`);
    t.match(err?.message, pattern, `${name}: ${err?.message}`);
  }
  t.ok(parseSafetensors(goodBytes, 'good'), 'the unaltered bytes parse');
});

t.test('bad arguments to the writer', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'x.safetensors');
  await t.rejects(writeSafetensors(file, { w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }), {
    code: 'ND_SHAPE',
    message: /tensor "w" has shape \[2, 2\] \(4 elements\) but 3 values/,
  });
  await t.rejects(writeSafetensors(file, { w: { dtype: 'F32', shape: [3], data: new Int32Array(3) as unknown as Float32Array } }), {
    code: 'ND_ARG',
    message: /must be a Float32Array, got Int32Array/,
  });
  await t.rejects(writeSafetensors(file, { w: { dtype: 'Q4' as 'F32', shape: [3], data: new Float32Array(3) } }), { code: 'ND_ARG' });
  await t.rejects(writeSafetensors(file, { __metadata__: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }), { code: 'ND_ARG' });
  await t.rejects(writeSafetensors(file, {}, { n: 1 as unknown as string }), { code: 'ND_ARG', message: /metadata "n" must be a string/ });
  t.same(await readdir(dir), [], 'nothing was written');
  // Mixed element sizes are laid out largest first so every tensor stays aligned.
  await writeSafetensors(file, {
    small: { dtype: 'U8', shape: [3], data: Uint8Array.from([1, 2, 3]) },
    big: { dtype: 'F64', shape: [1], data: Float64Array.from([2.5]) },
    mid: { dtype: 'I32', shape: [1], data: Int32Array.from([9]) },
  });
  const f = await readSafetensors(file);
  t.same(Object.keys(f.tensors), ['big', 'mid', 'small']);
  t.equal((f.tensors.big!.data as Float64Array)[0], 2.5);
});

t.test('a write that fails midway leaves the old file intact', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'ckpt.safetensors');
  // The file writes live in durable-write.ts; the fault goes into its fs.
  const durable = await t.mockImport<typeof import('../../lib/io/durable-write.js')>('../../lib/io/durable-write.js', {
    'node:fs/promises': {
      ...fsp,
      open: async (...args: Parameters<typeof fsp.open>) => {
        const fh = await fsp.open(...args);
        if (String(args[0]).includes('.tmp-')) {
          let writes = 0;
          const write = fh.write.bind(fh) as (...a: unknown[]) => Promise<unknown>;
          (fh as unknown as { write: unknown }).write = async (...a: unknown[]) => {
            if (++writes === 3) throw Object.assign(new Error('ENOSPC: no space left on device (simulated)'), { code: 'ENOSPC' });
            return write(...a);
          };
        }
        return fh;
      },
    },
  });
  const { writeSafetensors: writeFailing } = await t.mockImport<typeof import('../../lib/io/safetensors.js')>(
    '../../lib/io/safetensors.js',
    {
      '../../lib/io/durable-write.js': durable,
    },
  );
  const old = { w: { dtype: 'F32' as const, shape: [4], data: Float32Array.from([1, 2, 3, 4]) } };
  await writeSafetensors(file, old, { v: 'old' });
  const before = await readFile(file);
  const next = {
    w: { dtype: 'F32' as const, shape: [4], data: Float32Array.from([5, 6, 7, 8]) },
    v: { dtype: 'F32' as const, shape: [2], data: new Float32Array(2) },
  };
  await t.rejects(writeFailing(file, next, { v: 'new' }), { code: 'ENOSPC' });
  t.same(await readFile(file), before, 'the old file is byte for byte intact');
  t.same((await readSafetensors(file)).metadata, { v: 'old' });
  t.same(await readdir(dir), ['ckpt.safetensors'], 'the temporary file was removed');
  // Without the fault the same write replaces the file.
  await writeSafetensors(file, next, { v: 'new' });
  t.same(Array.from((await readSafetensors(file)).tensors.w!.data as Float32Array), [5, 6, 7, 8]);
});
