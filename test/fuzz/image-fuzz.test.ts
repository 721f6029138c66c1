// Seeded fuzzing of the image-reading path (issue 9): JPEG and PNG files with flipped bits,
// cut bodies and edited size fields (a PNG claiming 2^31 x 2^31 pixels, a JPEG frame of
// 65535 x 65535), decoded as the AlexNet loader does (decodeImage); and image list files with
// mutated text (readImageList). Each case runs in a child process; every failure must be
// ND_FORMAT, every unmutated input must read.
import t from 'tap';
import sharp from 'sharp';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkFuzz, fuzzCases, fuzzSeed, runFileFuzz, type FuzzCase } from '../helpers/file-fuzz.js';
import { INTERESTING_U32, int, mutateBytes, pick, type Rand } from '../helpers/mutate.js';
import { rng } from '../helpers/rng.js';
import { REPO } from '../helpers/transpiled.js';

const DATA = join(REPO, '..', 'shared', 'data');
const JPEGS = [
  join(DATA, 'imagenet-samples', 'n01871265_tusker.JPEG'),
  join(DATA, 'imagenet-samples', 'n01440764_tench.JPEG'),
  join(DATA, 'sample-photos', 'person.jpg'),
];

const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
function crc32(b: Uint8Array): number {
  let c = -1;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** A PNG whose IHDR width or height says otherwise; with its CRC fixed when `fixCrc`, so the lie reaches the decoder. */
function pngSize(r: Rand, png: Uint8Array): { how: string; bytes: Uint8Array } {
  const b = Uint8Array.from(png);
  const v = new DataView(b.buffer);
  const field = pick(r, [16, 20]);
  const value = pick(r, INTERESTING_U32);
  v.setUint32(field, value, false);
  const fixCrc = r() < 0.8;
  if (fixCrc) v.setUint32(29, crc32(b.subarray(12, 29)), false);
  return { how: `png ${field === 16 ? 'width' : 'height'} ${value}${fixCrc ? '' : ' (bad crc)'}`, bytes: b };
}

/** A JPEG whose first frame header (SOF0/1/2) says another size. */
function jpegSize(r: Rand, jpg: Uint8Array): { how: string; bytes: Uint8Array } {
  const b = Uint8Array.from(jpg);
  for (let i = 2; i + 9 < b.length; i++) {
    if (b[i] === 0xff && (b[i + 1] === 0xc0 || b[i + 1] === 0xc1 || b[i + 1] === 0xc2)) {
      const field = pick(r, [5, 7]);
      const value = pick(r, [0, 1, 2, 0x7fff, 0xffff, int(r, 0, 0xffff)]);
      new DataView(b.buffer).setUint16(i + field, value, false);
      return { how: `jpeg frame ${field === 5 ? 'height' : 'width'} ${value}`, bytes: b };
    }
  }
  return { how: 'jpeg without a frame header', bytes: b };
}

t.test('JPEG and PNG files and image lists, mutated', async (t) => {
  const dir = t.testdir();
  const r = rng(fuzzSeed(0x1a6e));
  const png = Uint8Array.from(
    await sharp({ create: { width: 40, height: 30, channels: 4, background: { r: 200, g: 10, b: 90, alpha: 0.5 } } })
      .png()
      .toBuffer(),
  );
  const grey = Uint8Array.from(
    await sharp({ create: { width: 300, height: 17, channels: 3, background: '#777' } })
      .greyscale()
      .png()
      .toBuffer(),
  );
  const bases: { kind: 'jpeg' | 'png'; bytes: Uint8Array }[] = [
    ...JPEGS.map((p) => ({ kind: 'jpeg' as const, bytes: Uint8Array.from(readFileSync(p)) })),
    { kind: 'png', bytes: png },
    { kind: 'png', bytes: grey },
  ];
  const cases: FuzzCase[] = [];
  bases.forEach((b, k) => {
    const file = join(dir, `seed-${k}.${b.kind === 'jpeg' ? 'jpg' : 'png'}`);
    writeFileSync(file, b.bytes);
    cases.push({ kind: 'image', files: [file], name: `seed ${k}`, valid: true });
  });
  const n = fuzzCases(100);
  for (let i = 0; i < n; i++) {
    const b = pick(r, bases);
    const roll = r();
    const m = roll < 0.25 ? (b.kind === 'png' ? pngSize(r, b.bytes) : jpegSize(r, b.bytes)) : mutateBytes(r, b.bytes, 600);
    const file = join(dir, `case-${i}.${b.kind === 'jpeg' ? 'jpg' : 'png'}`);
    writeFileSync(file, m.bytes);
    cases.push({ kind: 'image', files: [file], name: `${b.kind} ${m.how}` });
  }

  // Lists: TSV with a header (as imagenet-samples/classes.tsv), CSV, and "path label" lines.
  const lists = [
    `index\tfile\tnames\n0\tseed-0.jpg\ttusker\n1\tseed-1.jpg\ttench, Tinca tinca\n2\tseed-3.png\tred\n`,
    `path,label\n"seed-0.jpg",0\nseed-4.png,1\n`,
    `seed-1.jpg 0\nseed-2.jpg 1\n# a comment\n\nseed-3.png 2\n`,
  ];
  lists.forEach((text, k) => {
    const file = join(dir, `seed-list-${k}.txt`);
    writeFileSync(file, text);
    cases.push({ kind: 'image-list', files: [file], name: `seed list ${k}`, valid: true, options: { checkFiles: true } });
  });
  const nl = fuzzCases(60);
  for (let i = 0; i < nl; i++) {
    const text = pick(r, lists);
    // Half the time a label is replaced by a large or odd number first (a class table of 2e9 entries, say).
    const edited =
      r() < 0.5
        ? text.replace(
            /\b[0-2]\b(?=[^.]*$)|\b[0-2]\b/m,
            pick(r, ['1048576', '2147483647', '2000000000', '1e21', '-1', '0.5', '9007199254740993']),
          )
        : text;
    const m =
      r() < 0.5 && edited !== text
        ? { how: 'label edit', bytes: new TextEncoder().encode(edited) }
        : mutateBytes(r, new TextEncoder().encode(edited), 64);
    const file = join(dir, `list-${i}.txt`);
    writeFileSync(file, m.bytes);
    cases.push({ kind: 'image-list', files: [file], name: `list ${m.how}`, options: { checkFiles: true } });
  }

  const report = await runFileFuzz('test/fuzz/file-reader-child.ts', cases, dir, { caseTimeoutMs: 60_000 });
  checkFuzz(t, 'images + lists', cases, report, { codes: ['ND_FORMAT'] });
  // A check that the mutations reach the parsers at all (a fuzzer whose inputs all pass would prove nothing).
  const mutated = cases.filter((c) => !c.valid).length;
  t.ok((report.errors.ND_FORMAT ?? 0) >= 0.1 * mutated, `mutations are refused (${report.errors.ND_FORMAT} of ${mutated} mutated inputs)`);
});
