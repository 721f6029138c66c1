/**
 * MNIST and Fashion-MNIST (same files, same format): the standard file names, gzip or raw,
 * read as IDX and checked against each other.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { ArgumentError, ConvkitError } from '../errors.js';
import { readIdx } from './idx.js';

export type MnistSplit = 'train' | 'test';

export interface MnistData {
  /** [count, rows, cols] unsigned bytes, row-major, 0 = background, 255 = ink. */
  readonly images: Uint8Array;
  /** [count] class indices 0..9. */
  readonly labels: Uint8Array;
  readonly count: number;
  readonly rows: number;
  readonly cols: number;
}

const PREFIX: Record<MnistSplit, string> = { train: 'train', test: 't10k' };
const NUM_CLASSES = 10;

/** The path of `<name>.gz`, or of `<name>` when only the uncompressed file exists. */
async function findFile(dir: string, name: string): Promise<string> {
  for (const candidate of [`${name}.gz`, name]) {
    const path = join(dir, candidate);
    try {
      await access(path);
      return path;
    } catch {
      // try the next spelling
    }
  }
  throw new ArgumentError(`loadMnist: neither ${name}.gz nor ${name} exists in ${dir}`);
}

/** Loads one split of MNIST or Fashion-MNIST from `dir` (the folder holding the four files). */
export async function loadMnist(dir: string, opts: { split: MnistSplit }): Promise<MnistData> {
  const split = opts?.split;
  if (split !== 'train' && split !== 'test')
    throw new ArgumentError(`loadMnist: 'split' must be 'train' or 'test', got ${JSON.stringify(split)}`);
  // One after the other, so the error for a missing file is always the first one missing.
  const imagesPath = await findFile(dir, `${PREFIX[split]}-images-idx3-ubyte`);
  const labelsPath = await findFile(dir, `${PREFIX[split]}-labels-idx1-ubyte`);
  const [images, labels] = await Promise.all([readIdx(imagesPath, { expectNdim: 3 }), readIdx(labelsPath, { expectNdim: 1 })]);
  const [count, rows, cols] = images.dims as [number, number, number];
  // A 0-pixel image has no pixels to normalize or batch: the header is wrong, not the data.
  if (rows === 0 || cols === 0)
    throw new ConvkitError(
      'ND_FORMAT',
      `${imagesPath}: images of ${rows} x ${cols} pixels (rows at byte 8, columns at byte 12${imagesPath.endsWith('.gz') ? ' of the decompressed stream' : ''}); each must be at least 1 x 1`,
    );
  if (labels.dims[0] !== count)
    throw new ConvkitError(
      'ND_FORMAT',
      `loadMnist: ${imagesPath} holds ${count} images (count at byte 4) but ${labelsPath} holds ${labels.dims[0]} labels (count at byte 4)`,
    );
  const bad = labels.data.findIndex((l) => l >= NUM_CLASSES);
  if (bad >= 0)
    throw new ConvkitError(
      'ND_FORMAT',
      `${labelsPath}: label ${labels.data[bad]} at byte ${8 + bad}${labelsPath.endsWith('.gz') ? ' of the decompressed stream' : ''} (sample ${bad}) is not a class index 0..${NUM_CLASSES - 1}`,
    );
  return { images: images.data, labels: labels.data, count, rows, cols };
}
