// `convkit launch` (lib/cli/launch.ts), run as a user runs it (bin/convkit.js, against dist/):
// the variables each rank gets, the [rank R] prefixes, exit codes (all 0 -> 0; one fails -> the
// others are stopped and the launcher exits with that rank's code), signal forwarding, usage errors.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'convkit.js');
const dir = mkdtempSync(join(tmpdir(), 'convkit-launch-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
}

const env = { ...process.env };
delete env.NODE_OPTIONS;

function launch(args: string[]): { child: ReturnType<typeof spawn>; done: Promise<{ code: number | null; out: string; err: string }> } {
  const child = spawn(process.execPath, [bin, 'launch', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, out, err })),
  );
  return { child, done };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const printEnv = script(
  'env.mjs',
  `const v = ['RANK','WORLD_SIZE','LOCAL_RANK','LOCAL_WORLD_SIZE','MASTER_ADDR','MASTER_PORT'].map((k) => k + '=' + process.env[k]);
console.log(v.join(' '));
console.log('args', JSON.stringify(process.argv.slice(2)));
console.error('to stderr, partial line without newline');
process.stderr.write('tail');`,
);

t.test('every rank gets its variables, its output is prefixed, all 0 exits 0', async (t) => {
  const { code, out, err } = await launch(['--nproc', '3', '--master-port', '29123', printEnv, '--lr', '0.1', 'x']).done;
  t.equal(code, 0, err);
  for (let r = 0; r < 3; r++) {
    t.match(out, `[rank ${r}] RANK=${r} WORLD_SIZE=3 LOCAL_RANK=${r} LOCAL_WORLD_SIZE=3 MASTER_ADDR=127.0.0.1 MASTER_PORT=29123\n`);
    t.match(out, `[rank ${r}] args ["--lr","0.1","x"]\n`, "the script's own arguments pass through");
    t.match(err, `[rank ${r}] to stderr, partial line without newline\n`, 'stderr is prefixed too');
    t.match(err, `[rank ${r}] tail\n`, 'a last line without a newline is still written whole');
  }
  t.notMatch(out, /^(?!\[rank \d\] ).+$/m, 'no line of the children is unprefixed');
});

t.test('without --nproc one process runs, as rank 0 of 1', async (t) => {
  const { code, out } = await launch([printEnv]).done;
  t.equal(code, 0);
  t.match(out, '[rank 0] RANK=0 WORLD_SIZE=1 LOCAL_RANK=0 LOCAL_WORLD_SIZE=1');
});

t.test('ranks of a second node: RANK counts from node-rank x nproc', async (t) => {
  const { code, out } = await launch(['--nnodes', '2', '--node-rank', '1', '--nproc', '2', '--master-addr', 'node0', printEnv]).done;
  t.equal(code, 0);
  t.match(out, '[rank 2] RANK=2 WORLD_SIZE=4 LOCAL_RANK=0 LOCAL_WORLD_SIZE=2 MASTER_ADDR=node0 MASTER_PORT=29500');
  t.match(out, '[rank 3] RANK=3 WORLD_SIZE=4 LOCAL_RANK=1 LOCAL_WORLD_SIZE=2');
});

const failOne = script(
  'fail-one.mjs',
  `console.log('pid', process.pid);
if (process.env.RANK === '1') setTimeout(() => process.exit(7), 300);
else setInterval(() => {}, 1000);`,
);

t.test('one rank fails: the others are stopped and the launcher exits with its code', async (t) => {
  const started = Date.now();
  const { code, out, err } = await launch(['--nproc', '3', failOne]).done;
  t.equal(code, 7, "the failing rank's code");
  t.match(err, /rank 1 exited with code 7; stopping the other 2/);
  t.ok(Date.now() - started < 8000, 'the others were stopped promptly (SIGTERM), not waited for');
  const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
  t.equal(pids.length, 3, 'every rank started');
  for (const p of pids) t.notOk(alive(p), `process ${p} is gone`);
});

t.test('a rank that ignores SIGTERM is killed after --kill-after', async (t) => {
  const stubborn = script(
    'stubborn.mjs',
    `process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
if (process.env.RANK === '0') setTimeout(() => process.exit(2), 300);
setInterval(() => {}, 1000);`,
  );
  const { code, out } = await launch(['--nproc', '2', '--kill-after', '0.5', stubborn]).done;
  t.equal(code, 2);
  t.match(out, '[rank 1] ignoring SIGTERM', 'SIGTERM came first');
});

t.test('SIGTERM to the launcher reaches every rank; the launcher exits 128 + 15', async (t) => {
  const graceful = script(
    'graceful.mjs',
    `process.on('SIGTERM', () => { console.log('got SIGTERM'); process.exit(0); });
console.log('ready');
setInterval(() => {}, 1000);`,
  );
  const { child, done } = launch(['--nproc', '2', graceful]);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  for (let i = 0; i < 200 && (out.match(/ready/g) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 25));
  child.kill('SIGTERM');
  const r = await done;
  t.equal(r.code, 143);
  t.match(r.out, '[rank 0] got SIGTERM');
  t.match(r.out, '[rank 1] got SIGTERM');
  t.match(r.err, /SIGTERM: forwarding it to the 2 running processes/);
});

t.test('usage errors exit 2 and say what is wrong; --help exits 0', async (t) => {
  const run = (args: string[]) => spawnSync(process.execPath, [bin, 'launch', ...args], { env, encoding: 'utf8' });
  const cases: Array<[string[], RegExp]> = [
    [['--nproc', '0', printEnv], /--nproc must be >= 1/],
    [['--nproc', '2'], /name the script/],
    [['--nproc', '2', '--nnodes', '2', '--node-rank', '2', printEnv], /--node-rank must be >= 0 and <= 1/],
    [['--nproc', '2', '--master-port', '0', printEnv], /--master-port must be >= 1/],
  ];
  for (const [args, message] of cases) {
    const r = run(args);
    t.equal(r.status, 2, args.join(' '));
    t.match(r.stderr, message);
  }
  const h = run(['--help']);
  t.equal(h.status, 0);
  t.match(h.stdout, /usage: convkit launch SCRIPT \[ARGS \.\.\.\]/);
  t.match(h.stdout, /--nproc N/);
  t.match(h.stdout, /--node-rank 1/, 'shows a two-node command');
});
