// Helpers for the packaging tests: a PATH with no compiler on it, a clean environment for child
// processes (no test-runner loader, no npm lifecycle variables, no convkit switches), and a
// spawnSync wrapper that keeps the output for messages.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, symlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The tools an install and a run need; compilers and make are deliberately not among them. */
const TOOLS = [
  'npm',
  'npx',
  'sh',
  'bash',
  'env',
  'cat',
  'ls',
  'mkdir',
  'rm',
  'cp',
  'mv',
  'chmod',
  'uname',
  'getconf',
  'ldd',
  'grep',
  'sed',
  'tar',
  'gzip',
  'dirname',
  'basename',
  'readlink',
  'true',
  'false',
];
/** What must not be reachable from that PATH. */
export const COMPILERS = ['gcc', 'g++', 'cc', 'c++', 'clang', 'clang++', 'make', 'nvcc', 'cmake', 'python3'];

function which(name: string, path = process.env.PATH ?? ''): string | null {
  for (const d of path.split(delimiter).filter(Boolean)) {
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** A folder of symlinks to node and the basic tools only, to use as the whole PATH. */
export function compilerFreeBin(dir: string): string {
  mkdirSync(dir, { recursive: true });
  symlinkSync(process.execPath, join(dir, 'node'));
  for (const t of TOOLS) {
    const p = which(t);
    if (p) symlinkSync(p, join(dir, t));
  }
  return dir;
}

/** process.env without what would change how a child behaves: loaders, npm's script variables, convkit's switches. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || k.startsWith('CONVKIT_') || k.startsWith('TAP')) continue;
    // Keep where npm's cache and registry are; drop the lifecycle's own settings (prefix, global, ...).
    if (k.startsWith('npm_') && !/^npm_config_(cache|registry|userconfig)$/.test(k)) continue;
    env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The tail of both streams, for assertion messages. */
  tail: string;
}

export function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }): Ran {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 300_000,
    maxBuffer: 64 << 20,
  });
  const stdout = r.stdout ?? '';
  const stderr = (r.stderr ?? '') + (r.error ? `\n${r.error.message}` : '');
  return { status: r.status, stdout, stderr, tail: `${stdout.slice(-1500)}\n--- stderr ---\n${stderr.slice(-1500)}` };
}

/** The last line of stdout parsed as JSON, or undefined. */
export function lastJson<T>(r: Ran): T | undefined {
  const line = r.stdout.trim().split('\n').pop();
  try {
    return line ? (JSON.parse(line) as T) : undefined;
  } catch {
    return undefined;
  }
}
