import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  computeMeanImage,
  decodeImage,
  imageFolderLoader,
  type ImageBatch,
  type ImageFolderLoader,
} from '../../../lib/data/images/index.js';

async function collectAll(l: ImageFolderLoader): Promise<ImageBatch[]> {
  const out: ImageBatch[] = [];
  for await (const b of l.epoch(0)) out.push(b);
  return out;
}

// shared/ sits beside the repository: <repo>/../shared/data.
const PHOTOS = fileURLToPath(new URL('../../../../shared/data/sample-photos/', import.meta.url));
const SIDE = 256;

t.test('the mean image is the per-pixel average of the decoded images, CHW', async (t) => {
  const paths = ['dog.jpg', 'eagle.jpg', 'scream.jpg', 'giraffe.jpg', 'kite.jpg'].map((f) => join(PHOTOS, f));
  const { image, channels, count } = await computeMeanImage(paths);
  t.equal(count, 5);
  t.equal(image.length, 3 * SIDE * SIDE);
  const decoded = await Promise.all(paths.map((p) => decodeImage(p)));
  let worst = 0;
  const totals = [0, 0, 0];
  for (let c = 0; c < 3; c++)
    for (let px = 0; px < SIDE * SIDE; px++) {
      const want = decoded.reduce((s, d) => s + d[px * 3 + c]!, 0) / 5;
      totals[c]! += want;
      worst = Math.max(worst, Math.abs(image[c * SIDE * SIDE + px]! - want));
    }
  t.ok(worst < 1e-4, `max |error| ${worst}`);
  t.ok(
    channels.every((v, c) => Math.abs(v - totals[c]! / (SIDE * SIDE)) < 1e-6),
    `channel means ${channels.map((v) => v.toFixed(2)).join(', ')}`,
  );

  // As the loader's mean: each input is its centre crop minus the mean image's centre.
  const list = join(t.testdir({}), 'list.txt');
  writeFileSync(list, paths.map((p, i) => `${p} ${i}`).join('\n'));
  const l = await imageFolderLoader(list, { batchSize: 5, workers: 0, mean: image, crop: 224 });
  const [b] = await collectAll(l);
  await l.close();
  worst = 0;
  for (let k = 0; k < 5; k++)
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 224; y++)
        for (let x = 0; x < 224; x++) {
          const px = (16 + y) * SIDE + 16 + x;
          const want = decoded[k]![px * 3 + c]! - image[c * SIDE * SIDE + px]!;
          worst = Math.max(worst, Math.abs(b!.x[((k * 3 + c) * 224 + y) * 224 + x]! - want));
        }
  t.ok(worst < 1e-4, `the loader subtracts the mean image at each source pixel (max |error| ${worst})`);
  await t.rejects(computeMeanImage([]), { code: 'ND_ARG' });
  await t.rejects(computeMeanImage([join(PHOTOS, 'nope.jpg')]), { code: 'ND_FORMAT', message: /nope\.jpg/ });
});
