import t from 'tap';
import sharp from 'sharp';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImage, resizedSize } from '../../../lib/data/images/index.js';

// shared/ sits beside the repository: <repo>/../shared/data.
const DATA = fileURLToPath(new URL('../../../../shared/data/', import.meta.url));
const SAMPLES = join(DATA, 'imagenet-samples');
const PHOTOS = join(DATA, 'sample-photos');
const SIDE = 256;

/** Every step done by hand with sharp: its size from the header, resize to (short side 256), crop the centre in JS. */
async function byHand(path: string): Promise<{ pixels: Uint8Array; width: number; height: number }> {
  const { width, height } = await sharp(path).metadata();
  const scale = SIDE / Math.min(width!, height!);
  const w = width! <= height! ? SIDE : Math.round(width! * scale);
  const h = width! <= height! ? Math.round(height! * scale) : SIDE;
  const { data, info } = await sharp(path)
    .resize(w, h, { fit: 'fill' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`${path}: sharp gave ${info.channels} channels`);
  const top = Math.floor((h - SIDE) / 2);
  const left = Math.floor((w - SIDE) / 2);
  const pixels = new Uint8Array(SIDE * SIDE * 3);
  for (let y = 0; y < SIDE; y++) pixels.set(data.subarray(((top + y) * w + left) * 3, ((top + y) * w + left + SIDE) * 3), y * SIDE * 3);
  return { pixels, width: width!, height: height! };
}

function countDiff(a: Uint8Array, b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

t.test('resizedSize: the shorter side becomes exactly 256, the aspect ratio is kept', async (t) => {
  t.same(resizedSize(500, 375), [341, 256]);
  t.same(resizedSize(375, 500), [256, 341]);
  t.same(resizedSize(256, 256), [256, 256]);
  t.same(resizedSize(68, 56), [311, 256]);
  t.same(resizedSize(2400, 1632), [376, 256]);
  t.same(resizedSize(257, 1000), [256, 996]);
});

t.test('decoded images equal sharp doing the same steps by hand', async (t) => {
  const files = [
    join(SAMPLES, 'n01440764_tench.JPEG'),
    join(SAMPLES, "n03590841_jack-o'-lantern.JPEG"),
    join(SAMPLES, 'n02096051_Airedale.JPEG'), // grayscale
    join(PHOTOS, 'scream.jpg'), // portrait
    join(PHOTOS, 'giraffe.jpg'), // square
  ];
  for (const f of files) {
    const got = await decodeImage(f);
    t.equal(got.length, SIDE * SIDE * 3, `${f}: 256x256x3 bytes`);
    const want = await byHand(f);
    t.equal(countDiff(got, want.pixels), 0, `${f} (${want.width}x${want.height}): identical to resize + centre crop by hand`);
    // sharp's own "cover" (computed independently of our size arithmetic) agrees, up to its
    // rounding the crop offset up where we (like Caffe and torchvision) round it down.
    const cover = await sharp(f)
      .resize(SIDE, SIDE, { fit: 'cover', position: 'centre' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer();
    const shifted = (dy: number, dx: number): number => {
      let sum = 0;
      for (let y = 0; y < SIDE - dy; y++)
        for (let x = 0; x < SIDE - dx; x++)
          for (let c = 0; c < 3; c++) sum += Math.abs(got[((y + dy) * SIDE + x + dx) * 3 + c]! - cover[(y * SIDE + x) * 3 + c]!);
      return sum / ((SIDE - dy) * (SIDE - dx) * 3);
    };
    const best = Math.min(shifted(0, 0), shifted(0, 1), shifted(1, 0));
    t.ok(best < 1, `${f}: mean |difference| from sharp's fit: cover is ${best.toFixed(2)} levels`);
  }
});

t.test('geometry: which part of the photo survives the resize and centre crop', async (t) => {
  const dir = t.testdir({});
  // 600x300, three vertical bands: red [0, 200), green [200, 400), blue [400, 600).
  // Resized to 512x256 and cropped at left 128, source x in [150, 450) remains: red up to
  // crop column 43, green to 213, blue after.
  const wide = Buffer.alloc(600 * 300 * 3);
  for (let y = 0; y < 300; y++) for (let x = 0; x < 600; x++) wide[(y * 600 + x) * 3 + (x < 200 ? 0 : x < 400 ? 1 : 2)] = 255;
  await sharp(wide, { raw: { width: 600, height: 300, channels: 3 } })
    .png()
    .toFile(join(dir, 'wide.png'));
  const a = await decodeImage(join(dir, 'wide.png'));
  const px = (img: Uint8Array, y: number, x: number): number[] => Array.from(img.subarray((y * SIDE + x) * 3, (y * SIDE + x) * 3 + 3));
  for (const [x, rgb] of [
    [0, [255, 0, 0]],
    [38, [255, 0, 0]],
    [49, [0, 255, 0]],
    [128, [0, 255, 0]],
    [208, [0, 255, 0]],
    [219, [0, 0, 255]],
    [255, [0, 0, 255]],
  ] as const)
    for (const y of [0, 128, 255]) t.same(px(a, y, x), rgb, `wide: (${y}, ${x})`);
  // 300x900 portrait, three horizontal bands of 300: resized to 256x768, cropped at top 256:
  // exactly the middle band.
  const tall = Buffer.alloc(300 * 900 * 3);
  for (let y = 0; y < 900; y++) for (let x = 0; x < 300; x++) tall[(y * 300 + x) * 3 + Math.floor(y / 300)] = 200;
  await sharp(tall, { raw: { width: 300, height: 900, channels: 3 } })
    .png()
    .toFile(join(dir, 'tall.png'));
  const b = await decodeImage(join(dir, 'tall.png'));
  // Rows 0 and 255 sit on the band edges, where the resampling kernel blends the neighbours.
  let off = 0;
  for (let i = 2 * SIDE * 3; i < b.length - 2 * SIDE * 3; i += 3) if (b[i] !== 0 || b[i + 1] !== 200 || b[i + 2] !== 0) off++;
  t.equal(off, 0, 'tall: only the middle (green) band remains');
  t.ok(
    b[0]! > 0 && b[0]! < 60 && b[1]! > 150,
    `tall: the top row sits on the red/green edge, a little red bleeds in (${Array.from(b.subarray(0, 3))})`,
  );
});

t.test('grayscale photos become three equal channels; PNG alpha is dropped', async (t) => {
  const grey = await decodeImage(join(SAMPLES, 'n02096051_Airedale.JPEG'));
  t.equal((await sharp(join(SAMPLES, 'n02096051_Airedale.JPEG')).metadata()).channels, 1, 'the Airedale photo is single-channel');
  let unequal = 0;
  const levels = new Set<number>();
  for (let i = 0; i < grey.length; i += 3) {
    if (grey[i] !== grey[i + 1] || grey[i] !== grey[i + 2]) unequal++;
    levels.add(grey[i]!);
  }
  t.equal(unequal, 0, 'R = G = B everywhere');
  t.ok(levels.size > 100, `and it is a real photo (${levels.size} grey levels)`);

  // RGBA with a transparent half: the colour under the alpha is kept, alpha is gone.
  const dir = t.testdir({});
  const rgba = Buffer.alloc(320 * 256 * 4);
  for (let y = 0; y < 256; y++) for (let x = 0; x < 320; x++) rgba.set([x % 256, y, 77, x < 160 ? 0 : 255], (y * 320 + x) * 4);
  await sharp(rgba, { raw: { width: 320, height: 256, channels: 4 } })
    .png()
    .toFile(join(dir, 'alpha.png'));
  const img = await decodeImage(join(dir, 'alpha.png'));
  t.same(Array.from(img.subarray(0, 3)), [32, 0, 77], 'pixel (0, 0) is source (0, 32), its colour kept under alpha 0');
  t.same(
    Array.from(img.subarray((100 * SIDE + 200) * 3, (100 * SIDE + 200) * 3 + 3)),
    [232, 100, 77],
    'pixel (100, 200) is source (100, 232)',
  );
});

t.test('CMYK JPEGs (ImageNet has a few) and 16-bit PNGs become 8-bit RGB', async (t) => {
  const dir = t.testdir({});
  const src = join(PHOTOS, 'dog.jpg');
  await sharp(src).toColourspace('cmyk').jpeg({ quality: 95 }).toFile(join(dir, 'cmyk.jpg'));
  await sharp(src).toColourspace('rgb16').png().toFile(join(dir, 'deep.png'));
  t.equal((await sharp(join(dir, 'cmyk.jpg')).metadata()).space, 'cmyk');
  t.equal((await sharp(join(dir, 'deep.png')).metadata()).depth, 'ushort');
  const plain = await decodeImage(src);
  for (const f of ['cmyk.jpg', 'deep.png']) {
    const img = await decodeImage(join(dir, f));
    let sum = 0;
    for (let i = 0; i < img.length; i++) sum += Math.abs(img[i]! - plain[i]!);
    t.ok(sum / img.length < 8, `${f}: 256x256x3 bytes, within ${(sum / img.length).toFixed(2)} levels of the original on average`);
  }
});

t.test('bad files are ND_FORMAT errors naming the file', async (t) => {
  const dir = t.testdir({ 'notes.jpg': 'these are not the pixels you are looking for\n', 'empty.png': '' });
  const truncated = join(dir, 'truncated.jpg');
  const full = readFileSync(join(PHOTOS, 'dog.jpg'));
  writeFileSync(truncated, full.subarray(0, Math.floor(full.length / 3)));
  copyFileSync(join(PHOTOS, 'dog.jpg'), join(dir, "it's fine.jpg"));
  await t.rejects(decodeImage(join(dir, 'notes.jpg')), {
    code: 'ND_FORMAT',
    message: new RegExp(`cannot read image '${join(dir, 'notes.jpg')}': .*unsupported image format`),
  });
  await t.rejects(decodeImage(join(dir, 'empty.png')), { code: 'ND_FORMAT', message: /empty\.png/ });
  await t.rejects(decodeImage(truncated), {
    code: 'ND_FORMAT',
    message: /cannot decode image '.*truncated\.jpg': .*(premature|truncated)/i,
  });
  await t.rejects(decodeImage(join(dir, 'missing.jpg')), { code: 'ND_FORMAT', message: /missing\.jpg/ });
  t.equal((await decodeImage(join(dir, "it's fine.jpg"))).length, SIDE * SIDE * 3, 'an apostrophe in a name is fine');
});
