/**
 * `convkit launch --nproc N [--master-addr A] [--master-port P] [--nnodes K --node-rank R] SCRIPT [ARGS ...]`:
 * torchrun for convkit. Starts N processes of SCRIPT on this node, each with torchrun's variables
 * (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) so that
 * initProcessGroup() finds its place; prefixes every line they print with `[rank R]`; forwards
 * SIGINT and SIGTERM to them. When one exits non-zero it stops the others (SIGTERM, then SIGKILL
 * after --kill-after seconds) and exits with that rank's code; after a forwarded signal it exits
 * 128 + the signal's number, as a shell does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { UsageError, helpText, num, parseCommand, type CommandSpec } from './args.js';

export const LAUNCH: CommandSpec = {
  name: 'launch',
  summary: 'Start N processes of a script, one per rank, with torchrun’s variables set (RANK, WORLD_SIZE, ...).',
  positionals: 'SCRIPT [ARGS ...]',
  options: {
    nproc: { type: 'string', arg: 'N', desc: 'processes to start on this node (one per GPU or CPU replica)', default: '1' },
    nnodes: { type: 'string', arg: 'K', desc: 'nodes in the job (run this command once on each)', default: '1' },
    'node-rank': { type: 'string', arg: 'R', desc: "this node's index in [0, K); its processes get ranks R*N .. R*N+N-1", default: '0' },
    'master-addr': { type: 'string', arg: 'HOST', desc: "the host of rank 0, which serves the group's TCP store", default: '127.0.0.1' },
    'master-port': { type: 'string', arg: 'P', desc: "the store's port on that host", default: '29500' },
    'kill-after': { type: 'string', arg: 'S', desc: 'seconds between SIGTERM and SIGKILL when stopping the processes', default: '10' },
  },
  notes: [
    'Options go before SCRIPT; everything after SCRIPT is passed to it. Output lines are prefixed with [rank R].',
    'Two nodes, two processes each (on node 0, then on node 1 with --node-rank 1):',
    '  convkit launch --nnodes 2 --node-rank 0 --nproc 2 --master-addr node0 --master-port 29500 train.js',
  ],
};

/** Splits argv into the launcher's own options and SCRIPT [ARGS ...] (the first positional). */
function splitAtScript(argv: string[]): { own: string[]; script: string | undefined; args: string[] } {
  const valued = new Set(Object.entries(LAUNCH.options).flatMap(([n, o]) => (o.type === 'string' ? [`--${n}`] : [])));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return { own: argv.slice(0, i), script: argv[i + 1], args: argv.slice(i + 2) };
    if (!a.startsWith('-')) return { own: argv.slice(0, i), script: a, args: argv.slice(i + 1) };
    if (valued.has(a)) i++; // `--nproc 2`: the value is not the script
  }
  return { own: argv, script: undefined, args: [] };
}

/** Writes a child's output to `out` one whole line at a time, each prefixed. */
function prefixer(prefix: string, out: NodeJS.WritableStream): { write(c: Buffer): void; end(): void } {
  let rest = '';
  return {
    write(c) {
      const text = rest + c.toString('utf8');
      const cut = text.lastIndexOf('\n');
      if (cut < 0) {
        rest = text;
        return;
      }
      rest = text.slice(cut + 1);
      out.write(
        text
          .slice(0, cut)
          .split('\n')
          .map((l) => `${prefix}${l}\n`)
          .join(''),
      );
    },
    end() {
      if (rest) out.write(`${prefix}${rest}\n`);
      rest = '';
    },
  };
}

function signalStatus(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

export async function launchMain(argv: string[]): Promise<number> {
  const { own, script, args } = splitAtScript(argv);
  const { values } = parseCommand(LAUNCH, own);
  if (values.help) {
    process.stdout.write(helpText(LAUNCH) + '\n');
    return 0;
  }
  const nproc = num(values.nproc as string | undefined, 'nproc', 1, true, { min: 1, max: 1024 });
  const nnodes = num(values.nnodes as string | undefined, 'nnodes', 1, true, { min: 1, max: 65536 });
  const nodeRank = num(values['node-rank'] as string | undefined, 'node-rank', 0, true, { min: 0, max: nnodes - 1 });
  const masterPort = num(values['master-port'] as string | undefined, 'master-port', 29500, true, { min: 1, max: 65535 });
  const killAfterS = num(values['kill-after'] as string | undefined, 'kill-after', 10, false, { min: 0, max: 3600 });
  const masterAddr = (values['master-addr'] as string | undefined) ?? '127.0.0.1';
  if (!script) throw new UsageError('launch: name the script to run (convkit launch --nproc N script.js [args])');
  const worldSize = nproc * nnodes;
  if (worldSize > 1 << 20) throw new UsageError(`launch: ${nnodes} nodes x ${nproc} processes is more ranks than a group takes`);

  return new Promise<number>((resolve) => {
    const children: Array<ChildProcess | null> = [];
    let live = nproc;
    let failure: { rank: number; status: number } | null = null;
    let signalled: NodeJS.Signals | null = null;
    let killTimer: NodeJS.Timeout | null = null;

    const stopAll = (sig: NodeJS.Signals): void => {
      for (const c of children) if (c && c.exitCode === null && c.signalCode === null) c.kill(sig);
      killTimer ??= setTimeout(() => {
        for (const c of children) if (c && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }, killAfterS * 1000);
    };
    const onSignal = (sig: NodeJS.Signals): void => {
      signalled ??= sig;
      process.stderr.write(`[launch] ${sig}: forwarding it to the ${live} running process${live === 1 ? '' : 'es'}\n`);
      stopAll(sig);
    };
    const handlers = { SIGINT: () => onSignal('SIGINT'), SIGTERM: () => onSignal('SIGTERM') };
    process.on('SIGINT', handlers.SIGINT);
    process.on('SIGTERM', handlers.SIGTERM);

    const exited = (local: number, status: number, how: string): void => {
      children[local] = null;
      live--;
      const rank = nodeRank * nproc + local;
      if (status !== 0 && !failure && !signalled) {
        failure = { rank, status };
        if (live > 0) process.stderr.write(`[launch] rank ${rank} ${how}; stopping the other ${live}\n`);
        stopAll('SIGTERM');
      }
      if (live > 0) return;
      if (killTimer) clearTimeout(killTimer);
      process.off('SIGINT', handlers.SIGINT);
      process.off('SIGTERM', handlers.SIGTERM);
      const f = failure as { rank: number; status: number } | null;
      if (f) process.stderr.write(`[launch] failed: rank ${f.rank} exited with status ${f.status}\n`);
      resolve(signalled ? signalStatus(signalled) : (f?.status ?? 0));
    };

    for (let local = 0; local < nproc; local++) {
      const rank = nodeRank * nproc + local;
      const child = spawn(process.execPath, [...process.execArgv, script, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          RANK: String(rank),
          WORLD_SIZE: String(worldSize),
          LOCAL_RANK: String(local),
          LOCAL_WORLD_SIZE: String(nproc),
          GROUP_RANK: String(nodeRank),
          MASTER_ADDR: masterAddr,
          MASTER_PORT: String(masterPort),
        },
      });
      children.push(child);
      const out = prefixer(`[rank ${rank}] `, process.stdout);
      const err = prefixer(`[rank ${rank}] `, process.stderr);
      child.stdout!.on('data', (c: Buffer) => out.write(c));
      child.stderr!.on('data', (c: Buffer) => err.write(c));
      let done = false;
      child.once('error', (e) => {
        // The process could not start at all (spawn failed): a failure like any other.
        if (done) return;
        done = true;
        exited(local, 127, `could not start: ${e.message}`);
      });
      child.once('close', (code, signal) => {
        out.end();
        err.end();
        if (done) return;
        done = true;
        const status = signal ? signalStatus(signal) : (code ?? 1);
        exited(local, status, signal ? `was killed by ${signal}` : `exited with code ${code}`);
      });
    }
  });
}
