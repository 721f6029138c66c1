// Hostile safetensors headers (issue 9, finding 8): values nested 100,000 deep, huge strings,
// wrong types in every field, and files far larger than their header admits. Each must be a
// short ND_FORMAT message naming the file and a byte offset, never a RangeError from a
// recursive JSON.stringify and never a read of gigabytes.
import t from 'tap';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSafetensors, parseSafetensors, readSafetensorsHeader, encodeSafetensors } from '../../lib/io/safetensors.js';
import { describeValue, clip } from '../../lib/io/describe.js';

/** A file of the spec's layout with the header given as raw JSON text. */
function withHeader(json: string, data = Buffer.alloc(0)): Buffer {
  const body = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(body.length), 0);
  return Buffer.concat([len, body, data]);
}

const deep = (n: number, leaf = '1'): string => '['.repeat(n) + leaf + ']'.repeat(n);
const deepObj = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

t.test('deeply nested and oversized values give short coded errors', async (t) => {
  const dir = t.testdir();
  const longName = 'n'.repeat(1_000_000);
  const cases: [string, string, RegExp][] = [
    [
      'shape nested 100,000 deep',
      `{"w":{"dtype":"F32","shape":${deep(100_000)},"data_offsets":[0,4]}}`,
      /tensor "w" \(header at byte 8\) has a bad shape \[\[\.\.\.1 items\]\]: expected a flat array/,
    ],
    ['shape holding an object', `{"w":{"dtype":"F32","shape":[1,${deepObj(50_000)}],"data_offsets":[0,4]}}`, /bad shape \[1, \{\.\.\.\}\]/],
    ['dtype nested deep', `{"w":{"dtype":${deepObj(100_000)},"shape":[1],"data_offsets":[0,4]}}`, /unknown dtype \{"a": \{\.\.\.\}\}/],
    ['offsets nested deep', `{"w":{"dtype":"F32","shape":[1],"data_offsets":${deep(100_000)}}}`, /bad data_offsets \[\[\.\.\.1 items\]\]/],
    [
      'metadata value nested deep',
      `{"__metadata__":{"k":${deep(100_000)}}}`,
      /"__metadata__"\."k" \(header at byte 8\) must be a string, got \[\[\.\.\.1 items\]\]/,
    ],
    ['metadata nested deep', `{"__metadata__":${deep(100_000)}}`, /must be an object of strings, got \[\[\.\.\.1 items\]\]/],
    ['entry nested deep', `{"w":${deep(100_000)}}`, /tensor "w" \(header at byte 8\) must be an object, got \[\[\.\.\.1 items\]\]/],
    [
      'a 1 MB tensor name',
      `{"${longName}":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}`,
      /tensor "n{80}\.\.\. \(1000000 characters\)" .* unknown dtype "F99"/,
    ],
    [
      'a 1 MB dtype',
      `{"w":{"dtype":"${longName}","shape":[1],"data_offsets":[0,4]}}`,
      /unknown dtype "n{40}\.\.\. \(1000000 characters\)"/,
    ],
    ['shape with a string', `{"w":{"dtype":"F32","shape":["4"],"data_offsets":[0,16]}}`, /bad shape \["4"\]/],
    ['shape with a float', `{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,6]}}`, /bad shape \[1\.5\]/],
    ['shape with 2^53', `{"w":{"dtype":"F32","shape":[9007199254740992],"data_offsets":[0,4]}}`, /bad shape \[9007199254740992\]/],
    [
      'shape product past 2^53',
      `{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`,
      /needs \d.* bytes but data_offsets \[0, 4\] span 4/,
    ],
    ['dtype from the prototype', `{"w":{"dtype":"constructor","shape":[1],"data_offsets":[0,4]}}`, /unknown dtype "constructor"/],
    ['offsets past 2^53', `{"w":{"dtype":"U8","shape":[1],"data_offsets":[9007199254740993,9007199254740994]}}`, /bad data_offsets/],
  ];
  for (const [name, json, pattern] of cases) {
    const file = join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.safetensors`);
    await writeFile(file, withHeader(json, Buffer.alloc(4)));
    const err = (await readSafetensors(file).catch((e: unknown) => e)) as Error & { code?: string };
    t.equal(err?.code, 'ND_FORMAT', `${name}: ND_FORMAT (${err?.name}: ${clip(String(err?.message), 300)})`);
    t.ok(String(err?.message).length < 600, `${name}: the message is short (${String(err?.message).length} characters)`);
    t.match(err?.message, /\bbytes? \d+/, `${name}: names a byte offset`);
    t.ok(String(err?.message).startsWith(`${file}: `), `${name}: names the file`);
    t.match(err?.message, pattern, name);
    // The in-memory parser says the same.
    t.throws(() => parseSafetensors(withHeader(json, Buffer.alloc(4)), 'mem'), { code: 'ND_FORMAT' }, `${name}: parseSafetensors too`);
  }
});

t.test('a 3 GiB file with a bad header is refused from its header alone', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'big.safetensors');
  // A sparse file: the header, then 3 GiB of holes that would all be read by a whole-file read.
  await writeFile(file, withHeader('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},,}'));
  const fh = await open(file, 'r+');
  await fh.truncate(3 * 2 ** 30);
  await fh.close();
  const before = process.memoryUsage().arrayBuffers;
  await t.rejects(readSafetensors(file), { code: 'ND_FORMAT', message: /the header \(bytes 8\.\.\d+\) is not valid UTF-8 JSON/ });
  await t.rejects(readSafetensorsHeader(file), { code: 'ND_FORMAT' });
  t.ok(process.memoryUsage().arrayBuffers - before < 16 << 20, 'nothing like the file size was allocated');

  // A good header whose tensors do not tile the 3 GiB is refused before the data is read, too.
  const good = Buffer.concat(encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) } }, { k: 'v' }));
  await writeFile(file, good);
  const h = await readSafetensorsHeader(file);
  t.same(h.metadata, { k: 'v' }, 'readSafetensorsHeader gives the metadata');
  t.same(
    h.entries.map((e) => [e.name, e.dtype, e.shape, e.begin, e.end]),
    [['w', 'F32', [2], 0, 8]],
  );
  const fh2 = await open(file, 'r+');
  await fh2.truncate(3 * 2 ** 30);
  await fh2.close();
  await t.rejects(readSafetensors(file), {
    code: 'ND_FORMAT',
    message: /the tensors end at data offset 8 .* but the file has \d+ more bytes/,
  });
});

t.test('describeValue never recurses and stays short', async (t) => {
  let v: unknown = 1;
  for (let i = 0; i < 200_000; i++) v = [v];
  t.equal(describeValue(v), '[[...1 items]]');
  t.equal(describeValue([1, 2, 3]), '[1, 2, 3]');
  t.equal(describeValue(Array.from({ length: 20 }, (_, i) => i)), '[0, 1, 2, 3, 4, 5, 6, 7, ... (20 items)]');
  t.equal(describeValue({ a: 'x', b: [1] }), '{"a": "x", "b": [...1 items]}');
  t.equal(describeValue(undefined), 'undefined');
  t.ok(describeValue('z'.repeat(10_000)).length <= 160);
});
