// Runs the CLI for tests: in a child process (stdout is a pipe there, so JSON lines) with the
// test runner's own TypeScript loader, or in this process for failures that happen before any
// output. Children get CONVKIT_NO_CUDA=1 so they load the CPU build that the suite tests.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { main } from '../../lib/cli/main.js';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '..', '..');
export const SHARED = join(ROOT, '..', 'shared', 'data');
export const MNIST = join(SHARED, 'mnist');
export const IMAGENET = join(SHARED, 'imagenet-samples');
const MAIN = pathToFileURL(join(ROOT, 'lib', 'cli', 'main.ts')).href;

export interface Run {
  code: number | null;
  lines: Array<Record<string, unknown>>;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], opts: { cwd?: string; timeout?: number } = {}): Run {
  const code = `import { main } from ${JSON.stringify(MAIN)}; process.exitCode = await main(${JSON.stringify(args)});`;
  const r = spawnSync(process.execPath, [...process.execArgv, '--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: opts.timeout ?? 180_000,
    cwd: opts.cwd,
    env: { ...process.env, CONVKIT_NO_CUDA: '1' },
  });
  return { code: r.status, lines: jsonLines(r.stdout), stdout: r.stdout, stderr: r.stderr };
}

/** The JSON lines of a command's stdout. */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** main() in this process, with stdout and stderr captured. */
export async function cliHere(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const [w1, w2] = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((c: string | Uint8Array) => ((stdout += String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}
