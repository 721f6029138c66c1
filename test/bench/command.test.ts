// `convkit bench` end to end on a tiny real case (LeNet-5 inference, batch 1, one round): the
// JSON line schema, the ceiling share, --compare on the run's own lines, the terminal table, and
// the exit codes of usage and device errors. No figure is checked against a speed.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchMain } from '../../lib/bench/command.js';
import { main } from '../../lib/cli/main.js';

const dir = mkdtempSync(join(tmpdir(), 'convkit-bench-cmd-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Runs benchMain with captured stdout/stderr; isTTY as given. */
async function bench(argv: string[], tty = false) {
  let out = '';
  let err = '';
  const stdout = { isTTY: tty, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
  const stderr = { isTTY: false, write: (s: string) => ((err += s), true) } as unknown as NodeJS.WriteStream;
  const code = await benchMain(argv, { stdout, stderr });
  return { code, out, err };
}

const TINY = ['--model', 'lenet5:modern', '--pass', 'inference', '--batch', '1', '--rounds', '1', '--warmup', '0', '--round-ms', '20'];
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const isSpread = (t: Test, s: Json, what: string) => {
  t.ok(s && typeof s === 'object', `${what} is a spread`);
  for (const k of ['min', 'median', 'max']) t.ok(Number.isFinite(s[k]) && s[k] > 0, `${what}.${k} is a positive number`);
  t.ok(s.min <= s.median && s.median <= s.max, `${what}: min <= median <= max`);
};

let lines: Json[] = [];

t.test('JSON lines: start, ceiling, result, done, each with the version and the device', async (t) => {
  const r = await bench(TINY);
  t.equal(r.code, 0, `exit 0 (stderr: ${r.err})`);
  lines = r.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Json);
  t.same(
    lines.map((l) => l.type),
    ['start', 'ceiling', 'result', 'done'],
  );
  for (const l of lines) {
    t.match(l.convkit_version, /^\d+\.\d+\.\d+/, `${l.type}: convkit_version`);
    t.equal(l.device.name, 'cpu:0', `${l.type}: device name`);
    t.ok(typeof l.device.model === 'string' && l.device.model.length > 0, `${l.type}: CPU model`);
    t.ok(Number.isSafeInteger(l.device.threads) && l.device.threads >= 1, `${l.type}: threads`);
    t.match(l.device.isa, /^(avx512|avx2|portable)$/, `${l.type}: ISA`);
  }
  const [start, ceiling, res] = lines;
  t.equal(start.cases, 1);
  t.equal(ceiling.op, 'sgemm');
  t.same([ceiling.M, ceiling.N, ceiling.K], [2048, 2048, 2048]);
  isSpread(t, ceiling.gflops, 'ceiling.gflops');
  t.match(res, { impl: 'convkit', model: 'lenet5', variant: 'modern', pass: 'inference', batch: 1, rounds: 1, path: 'compiled' });
  t.ok(res.iters_per_round >= 1, 'iters_per_round');
  for (const k of ['images_per_s', 'ms_per_batch', 'gflops', 'ceiling_share']) isSpread(t, res[k], k);
  t.equal(res.gflop_per_image, 0.000833, 'LeNet-5 forward: 833,040 FLOPs');
  // The figures agree with each other (to the 4 digits the line keeps).
  const close = (a: number, b: number, what: string) => t.ok(Math.abs(a - b) <= 2e-3 * Math.abs(b), `${what}: ${a} ~ ${b}`);
  close(res.gflops.median, (res.images_per_s.median * 833_040) / 1e9, 'GFLOP/s = images/s x FLOPs per image');
  close(res.ms_per_batch.median, 1000 / res.images_per_s.median, 'ms per batch = 1000 / images/s at batch 1 (one round)');
  // The share is over the ceiling timed in turns with the case (one round here, so the median
  // is that round's); it keeps 3 digits: within 1% of the ratio of the rounded figures.
  isSpread(t, res.ceiling_gflops, 'ceiling_gflops (the ceiling in turns with the case)');
  t.ok(
    Math.abs(res.ceiling_share.median - res.gflops.median / res.ceiling_gflops.median) <= 1e-2 * res.ceiling_share.median,
    'ceiling share = GFLOP/s / the in-turns ceiling of the same round',
  );
  t.ok(res.peak_pool_mib > 0, 'the host pool peak is reported');
  t.ok(lines[3].seconds > 0, 'done: seconds');
});

t.test('--compare with an earlier run: the ratio of medians on every figure line', async (t) => {
  t.ok(lines.length, 'the first run produced lines');
  const earlier = lines.map((l) =>
    l.type === 'result' ? { ...l, images_per_s: { ...l.images_per_s, median: l.images_per_s.median / 2 } } : l,
  );
  const file = join(dir, 'earlier.jsonl');
  writeFileSync(file, earlier.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const r = await bench([...TINY, '--compare', file]);
  t.equal(r.code, 0, `exit 0 (stderr: ${r.err})`);
  const now = r.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Json);
  const res = now.find((l) => l.type === 'result')!;
  const ceil = now.find((l) => l.type === 'ceiling')!;
  const was = earlier.find((l) => l.type === 'result')!.images_per_s.median;
  t.equal(res.compare.file, file);
  t.equal(res.compare.earlier, was);
  t.ok(Math.abs(res.compare.ratio - res.images_per_s.median / was) <= 1e-3 * res.compare.ratio, 'ratio = this median / earlier median');
  t.ok(Math.abs(ceil.compare.ratio - ceil.gflops.median / lines[1].gflops.median) <= 1e-3 * ceil.compare.ratio, 'the ceiling too');
  t.equal(now.find((l) => l.type === 'start')!.compare, undefined, 'the start line has no comparison');
  const bad = await bench([...TINY, '--compare', join(dir, 'missing.jsonl')]);
  t.equal(bad.code, 1);
  t.match(bad.err, /ND_ARG: --compare: cannot read/);
  t.equal(bad.out, '', 'a bad --compare file fails before anything runs');
});

t.test('on a terminal: a table with the median and spread of each figure', async (t) => {
  const r = await bench([...TINY, '--no-ceiling'], true);
  t.equal(r.code, 0, `exit 0 (stderr: ${r.err})`);
  t.match(r.out, /convkit 0\.\d+\.\d+ bench on cpu:0 \(.*, \d+ threads, (avx512|avx2|portable)\): 1 cases/);
  t.match(r.out, /impl\s+model\s+pass\s+batch\s+images\/s \(min-max\)/);
  t.match(r.out, /convkit\s+lenet5 modern\s+inference\s+1\s+[\d,.]+ \([\d,.]+-[\d,.]+\)/);
  t.notMatch(r.out, /^\{/m, 'no JSON lines');
  const j = await bench([...TINY, '--no-ceiling', '--json'], true);
  t.match(j.out, /^\{"type":"start"/, '--json prints JSON lines on a terminal too');
});

t.test('exit codes: 2 for usage, 1 with the code for devices it cannot run', async (t) => {
  const u = await bench(['--rounds', '0']);
  t.equal(u.code, 2);
  t.match(u.err, /--rounds must be a whole number in \[1, 1000\]/);
  t.match(u.err, /usage: convkit bench/);
  const m = await bench([...TINY, '--device', 'cpu:0,cpu:1']);
  t.equal(m.code, 1);
  t.match(m.err, /ND_ARG: bench --device cpu:0,cpu:1: several devices means data-parallel replicas, which convkit does not have yet/);
  if (process.env.CONVKIT_NO_CUDA) {
    const c = await bench([...TINY, '--device', 'cuda:0']);
    t.equal(c.code, 1);
    t.match(c.err, /ND_NO_CUDA: device: 'cuda:0'/);
  } else t.pass('cuda:0 refusal', { skip: 'cuda:0 refusal: run with CONVKIT_NO_CUDA=1 to check it (a CUDA build may have a GPU)' });
  const h = await bench(['--help']);
  t.equal(h.code, 0);
  t.match(h.out, /--peers LIST/);
});

t.test('convkit main dispatches `bench` to it', async (t) => {
  let err = '';
  const write = process.stderr.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    t.equal(await main(['bench', '--batch', '0']), 2);
  } finally {
    process.stderr.write = write;
  }
  t.match(err, /convkit bench: --batch must be a whole number/);
});
