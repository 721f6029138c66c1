/**
 * Where the images are and what their labels are, from either of two layouts:
 *
 * - a class-per-folder tree, root/<class>/**.{jpg,jpeg,png}: classes sorted by name, label =
 *   the class's position (torchvision's ImageFolder convention), files sorted within a class;
 * - a list file: one image per line, as TSV, CSV or "path label" (Caffe's train.txt, split at
 *   the last run of spaces so paths may hold spaces). Paths are relative to the list's folder or
 *   absolute. A header row names the columns (path: file/path/filename/image; label:
 *   label/index/class_index/target; class name: names/name/class, first comma-separated name),
 *   which reads shared/data/imagenet-samples/classes.tsv as it is; without a header the path is
 *   column 0 and the label column 1.
 *
 * A malformed list, a bad label or a missing file is an ND_FORMAT ConvkitError naming the file
 * (and the line).
 */
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConvkitError } from '../../errors.js';

export interface ImageSource {
  /** Absolute paths, in source order. */
  paths: string[];
  labels: Int32Array;
  /** classes[label] is the class name. */
  classes: string[];
}

const IMAGE_EXT = /\.(jpe?g|png)$/i;
const PATH_COLUMNS = ['file', 'path', 'filename', 'image', 'image_path'];
const LABEL_COLUMNS = ['label', 'index', 'class_index', 'target'];
const NAME_COLUMNS = ['names', 'name', 'class', 'class_name'];

/** A line's text in a message: a list line may be megabytes long. */
function clip(s: string, max = 200): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length} characters)`;
}

function formatError(message: string): ConvkitError {
  return new ConvkitError('ND_FORMAT', message);
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Image files under `dir`, recursively, sorted by path. Symlinks are followed, but a folder
 * already being walked (by its real path) is not entered again: a link to a parent folder would
 * otherwise list every image once per level until the OS gives up (ELOOP, 40 levels on Linux).
 */
async function imageFiles(dir: string, walking = new Set<string>()): Promise<string[]> {
  const real = await realpath(dir).catch(() => dir);
  if (walking.has(real)) return [];
  walking.add(real);
  const out: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => byCodeUnit(a.name, b.name));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    const isDir = e.isDirectory() || (e.isSymbolicLink() && (await stat(p).catch(() => null))?.isDirectory());
    if (isDir) out.push(...(await imageFiles(p, walking)));
    else if (IMAGE_EXT.test(e.name)) out.push(p);
  }
  walking.delete(real);
  return out;
}

/** The images of a class-per-folder tree. */
export async function listImageFolder(root: string): Promise<ImageSource> {
  const dir = resolve(root);
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new ConvkitError('ND_FORMAT', `cannot read image folder '${dir}': ${(e as Error).message}`, { cause: e });
  }
  const classes: string[] = [];
  for (const e of entries.sort((a, b) => byCodeUnit(a.name, b.name))) {
    if (e.name.startsWith('.')) continue;
    const isDir = e.isDirectory() || (e.isSymbolicLink() && (await stat(join(dir, e.name)).catch(() => null))?.isDirectory());
    if (isDir) classes.push(e.name);
  }
  const paths: string[] = [];
  const labels: number[] = [];
  for (let label = 0; label < classes.length; label++) {
    for (const p of await imageFiles(join(dir, classes[label]!))) {
      paths.push(p);
      labels.push(label);
    }
  }
  if (paths.length === 0)
    throw formatError(
      `image folder '${dir}' holds no images: expected <class>/*.jpg|jpeg|png under it (${classes.length} class folders found)`,
    );
  return { paths, labels: Int32Array.from(labels), classes };
}

/** Splits one CSV line (RFC 4180 quoting, no embedded newlines). */
function splitCsv(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new Error('an unterminated quoted field');
        v += line.slice(i, q);
        if (line[q + 1] === '"') {
          v += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(v);
      if (i >= line.length) return out;
      if (line[i] !== ',') throw new Error(`text after a quoted field at column ${i + 1}`);
      i++;
    } else {
      const c = line.indexOf(',', i);
      if (c < 0) {
        out.push(line.slice(i).trim());
        return out;
      }
      out.push(line.slice(i, c).trim());
      i = c + 1;
    }
  }
}

type Split = (line: string) => string[];

function splitterFor(firstLine: string): Split {
  if (firstLine.includes('\t')) return (l) => l.split('\t').map((s) => s.trim());
  if (firstLine.includes(',')) return splitCsv;
  // "path label": the label is the last token, so a path may contain spaces.
  return (l) => {
    const m = /^(.*\S)\s+(\S+)$/.exec(l.trim());
    return m ? [m[1]!, m[2]!] : [l.trim()];
  };
}

const INT = /^[+]?\d+$/;

/**
 * The largest class count a list may imply. classes[] has one entry per label up to the
 * largest, so without a bound one line labelled 2000000000 would build a 2e9-entry array (minutes
 * and gigabytes). ImageNet-21k has 21,841 classes; 2^20 leaves ample room.
 */
export const MAX_CLASSES = 1 << 20;

export interface ListOptions {
  /** The folder relative paths start from (default: the list file's folder). */
  root?: string;
  /** Check that every listed file exists before returning (default true). */
  checkFiles?: boolean;
  /** Only the first `limit` files will be used: check only those. */
  limit?: number;
}

/** The images of a list file (TSV, CSV or "path label" lines). */
export async function readImageList(listFile: string, opts: ListOptions = {}): Promise<ImageSource> {
  const file = resolve(listFile);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ConvkitError('ND_FORMAT', `cannot read image list '${file}': ${(e as Error).message}`, { cause: e });
  }
  const base = opts.root === undefined ? dirname(file) : resolve(opts.root);
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const first = lines.findIndex((l) => l.trim() !== '' && !l.startsWith('#'));
  if (first < 0) throw formatError(`image list '${file}' is empty`);
  const split = splitterFor(lines[first]!);
  const at = (n: number): string => `image list '${file}' line ${n + 1}`;

  let pathCol = 0;
  let labelCol = 1;
  let nameCol = -1;
  let start = first;
  let head: string[];
  try {
    head = split(lines[first]!).map((s) => s.toLowerCase());
  } catch (e) {
    throw formatError(`${at(first)}: ${(e as Error).message}`);
  }
  const find = (names: string[]): number => head.findIndex((h) => names.includes(h));
  if (head.length >= 2 && !INT.test(head[1]!) && find(PATH_COLUMNS) >= 0) {
    pathCol = find(PATH_COLUMNS);
    labelCol = find(LABEL_COLUMNS);
    nameCol = find(NAME_COLUMNS);
    if (labelCol < 0)
      throw formatError(`${at(first)}: the header names no label column (one of ${LABEL_COLUMNS.join(', ')}): ${clip(lines[first]!)}`);
    start = first + 1;
  }

  const paths: string[] = [];
  const labels: number[] = [];
  const lineOf: number[] = [];
  const names = new Map<number, string>();
  for (let n = start; n < lines.length; n++) {
    const line = lines[n]!;
    if (line.trim() === '' || line.startsWith('#')) continue;
    let cols: string[];
    try {
      cols = split(line);
    } catch (e) {
      throw formatError(`${at(n)}: ${(e as Error).message}`);
    }
    const p = cols[pathCol];
    const l = cols[labelCol];
    if (!p) throw formatError(`${at(n)}: no image path in column ${pathCol + 1}: ${JSON.stringify(clip(line))}`);
    if (l === undefined || l === '') throw formatError(`${at(n)}: no label in column ${labelCol + 1} for '${clip(p)}'`);
    const label = INT.test(l) ? Number(l) : NaN;
    if (!(label < MAX_CLASSES))
      throw formatError(
        `${at(n)}: the label of '${clip(p)}' must be a non-negative integer below ${MAX_CLASSES}, got ${JSON.stringify(clip(l))}`,
      );
    paths.push(isAbsolute(p) ? p : join(base, p));
    labels.push(label);
    lineOf.push(n);
    if (nameCol >= 0 && !names.has(label)) {
      const name = cols[nameCol]?.split(',')[0]?.trim();
      if (name) names.set(label, name);
    }
  }
  if (paths.length === 0) throw formatError(`image list '${file}' lists no images`);
  if (opts.checkFiles ?? true) await checkFilesExist(paths.slice(0, opts.limit ?? paths.length), (i) => at(lineOf[i]!));

  const count = labels.reduce((m, v) => Math.max(m, v + 1), 0);
  const classes = Array.from({ length: count }, (_, i) => names.get(i) ?? String(i));
  return { paths, labels: Int32Array.from(labels), classes };
}

/** Rejects with the first listed file (in list order) that is missing or not a file. */
async function checkFilesExist(paths: string[], where: (i: number) => string): Promise<void> {
  const width = 64;
  for (let b = 0; b < paths.length; b += width) {
    const chunk = paths.slice(b, b + width);
    const found = await Promise.all(
      chunk.map((p) =>
        stat(p).then(
          (s) => s.isFile(),
          () => false,
        ),
      ),
    );
    const bad = found.indexOf(false);
    if (bad >= 0) throw formatError(`${where(b + bad)}: image file '${chunk[bad]}' is missing or not a file`);
  }
}

/**
 * A folder is read as a class-per-folder tree, a file as a list. With `list`, `path` is the
 * folder that the list's relative paths start from (Caffe's root_folder).
 */
export async function imageSource(path: string, opts: { list?: string } & Omit<ListOptions, 'root'> = {}): Promise<ImageSource> {
  if (opts.list !== undefined) return readImageList(opts.list, { ...opts, root: path });
  const s = await stat(path).catch(() => null);
  if (!s) throw formatError(`image source '${resolve(path)}' does not exist: expected a class-per-folder tree or a list file`);
  return s.isDirectory() ? listImageFolder(path) : readImageList(path, opts);
}
