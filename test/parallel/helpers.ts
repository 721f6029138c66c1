// Starting a group of ranks as child processes on loopback, as `convkit launch` would, for the
// process-group tests. Each rank's stdout is JSON lines (see gloo-child.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');

/** Why the Gloo tests skip here, or false when the shim was built. */
export function glooSkip(): string | false {
  const shim = process.env.CONVKIT_GLOO_SHIM ?? join(repoRoot, 'build', 'Release', 'convkit_gloo.so');
  return existsSync(shim) ? false : `the Gloo shim was not built (${shim} is absent: libgloo-dev's headers were missing when node-gyp ran)`;
}

/** A port that was free a moment ago (the store binds it again right away). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Rank {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stderr: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first line that has `key`. */
  waitFor(key: string): Promise<Record<string, unknown>>;
}

/** Starts the ranks of a `worldSize` group (all, or only `only`) running `script`, with torchrun's variables. */
export async function startRanks(
  script: string,
  args: string[],
  worldSize: number,
  env: Record<string, string> = {},
  only?: number[],
): Promise<Rank[]> {
  const port = await freePort();
  return (only ?? Array.from({ length: worldSize }, (_, r) => r)).map((rank) => {
    const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
      env: {
        ...process.env,
        ...env,
        RANK: String(rank),
        WORLD_SIZE: String(worldSize),
        LOCAL_RANK: String(rank),
        LOCAL_WORLD_SIZE: String(worldSize),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const r: Rank = {
      child,
      lines: [],
      stderr: '',
      exit: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
      waitFor: (key) =>
        new Promise((resolve, reject) => {
          const check = (): boolean => {
            const hit = r.lines.find((l) => key in l);
            if (hit) resolve(hit);
            return !!hit;
          };
          if (check()) return;
          const onLine = (): void => void (check() && child.stdout!.off('data', onLine));
          child.stdout!.on('data', onLine);
          void r.exit.then(() =>
            setImmediate(() => check() || reject(new Error(`rank ${rank} exited before printing ${key}: ${r.stderr}`))),
          );
        }),
    };
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          r.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          r.lines.push({ text: line });
        }
      }
    });
    child.stderr!.on('data', (c: Buffer) => (r.stderr += c.toString()));
    return r;
  });
}
