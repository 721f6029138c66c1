/**
 * Durable file writes, the building blocks of the checkpoint protocol: a file written and
 * fsynced under its final name (for files whose name is not yet referenced by anything), a
 * file written to a temporary name and renamed over its target (the atomic replace), and an
 * fsync of a directory so that renames survive a power cut, not only a killed process.
 *
 * Temporary names are `<target>.tmp-<pid>-<random>`: `tempPrefix(target)` names the pattern so
 * that the next writer can remove what a killed one left behind.
 */
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Called between the steps of a write; the kill-safety tests use it to stop at each one. */
export type StepHook = (step: string) => void;

/** The start of every temporary file name writeFileAtomic uses for `path`. */
export function tempPrefix(path: string): string {
  return `${path}.tmp-`;
}

/**
 * Writes `chunks` to a new file `path` (which must not exist) and fsyncs it. On failure the
 * partial file is removed. `hook` is called after each chunk ('chunk') and after the fsync.
 */
export async function writeFileDurable(path: string, chunks: Uint8Array[], hook?: StepHook): Promise<void> {
  const fh = await open(path, 'wx');
  let closed = false;
  try {
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, done, chunk.length - done);
        done += bytesWritten;
      }
      hook?.('chunk');
    }
    await fh.sync();
    closed = true;
    await fh.close();
  } catch (e) {
    if (!closed) await fh.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw e;
  }
}

/**
 * Writes `chunks` to a temporary file beside `path`, fsyncs it and renames it over `path`, then
 * fsyncs the directory. On any failure the temporary file is removed and whatever was at `path`
 * before is untouched. `hook` sees 'chunk', 'written' (before the rename) and 'renamed'.
 */
export async function writeFileAtomic(path: string, chunks: Uint8Array[], hook?: StepHook): Promise<void> {
  const tmp = `${tempPrefix(path)}${process.pid}-${randomBytes(6).toString('hex')}`;
  await writeFileDurable(tmp, chunks, hook);
  try {
    hook?.('written');
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  hook?.('renamed');
  await syncDir(dirname(path));
}

/** Makes renames in `dir` durable; not every platform can fsync a directory, so failures are ignored. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // best effort
  }
}
