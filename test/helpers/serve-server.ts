// Starts examples/server/server.mjs as a child process on a free port and hands back its URL.
// The example imports 'convkit' (dist/): `npx tsc -p tsconfig.build.json` must have run.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const serverScript = fileURLToPath(new URL('../../examples/server/server.mjs', import.meta.url));

export interface Running {
  url: string;
  /** The admin listener's URL (with --admin-port), else null. */
  adminUrl: string | null;
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
}

export function startServer(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [serverScript, '--port', '0', ...args], {
    env: { ...process.env, CONVKIT_NO_CUDA: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        stdout.push(l);
        try {
          const m = JSON.parse(l);
          if (m.listening) resolve({ url: m.listening, adminUrl: m.admin ?? null, child, stdout, stderr, exited });
        } catch {}
      }
    });
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening: ${stderr.join('')}`)));
  });
}
