/**
 * `convkit bench` arguments: which cases to run (models x passes x batch sizes on one device) and
 * how (rounds, warm-up, peers, output). Parsing is pure, so the tests check the selection
 * without running anything. Bad values are usage errors naming the flag and what it accepts.
 */
import { parseArgs } from 'node:util';

export type ModelName = 'lenet5' | 'alexnet';
export type Pass = 'train' | 'inference';
export type PeerName = 'torch' | 'ort';

/** One benchmark case: a model form, a pass, a batch size. */
export interface BenchCase {
  model: ModelName;
  variant: string;
  pass: Pass;
  batch: number;
}

export interface BenchOptions {
  cases: BenchCase[];
  /** The device specs as given: 'cpu', 'cpu:1', 'cuda:0', or several ('cpu:0,cpu:1'). */
  devices: string[];
  rounds: number;
  warmup: number;
  /** Target length of one timed round (each contender repeats its batch until it is reached). */
  roundMs: number;
  peers: PeerName[];
  json: boolean;
  quick: boolean;
  compare?: string;
  /** Skip the SGEMM ceiling line (and so the ceiling shares); for tests only, not in --help. */
  noCeiling: boolean;
  help: boolean;
}

/** A bad command line: the CLI prints it with the usage and exits 2. */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

export const VARIANTS: Record<ModelName, readonly string[]> = { lenet5: ['modern', 'classic'], alexnet: ['paper', 'owt'] };

/** Batch sizes when --batch is not given: a latency and a throughput point per pass. */
const DEFAULT_BATCHES: Record<ModelName, Record<Pass, number[]>> = {
  lenet5: { train: [64, 256], inference: [1, 256] },
  alexnet: { train: [16, 64], inference: [1, 32] },
};
/** --quick: one batch per pass, the one a user meets first (fit()'s default, a single request). */
const QUICK_BATCHES: Record<ModelName, Record<Pass, number[]>> = {
  lenet5: { train: [64], inference: [1] },
  alexnet: { train: [16], inference: [1] },
};

export const BENCH_USAGE = `usage: convkit bench [options]
  --model LIST     lenet5, alexnet, or forms: lenet5:classic, alexnet:owt   (default: lenet5,alexnet)
  --variant LIST   forms of the chosen models: modern, classic, paper, owt   (default: every form)
  --pass LIST      train, inference                                          (default: both)
  --batch LIST     batch sizes for every case    (default: lenet5 train 64,256 / inference 1,256;
                                                  alexnet train 16,64 / inference 1,32)
  --device LIST    cpu, cpu:N, cuda:N; several (cpu:0,cpu:1) need data-parallel replicas (default: cpu)
  --rounds N       timed rounds per case; figures are min/median/max over them   (default: 5, quick 3)
  --warmup N       untimed rounds first                                          (default: 2, quick 1)
  --round-ms N     target length of one round in ms                              (default: 1000, quick 250)
  --quick          one batch per pass and fewer, shorter rounds (under 2 minutes)
  --peers LIST     torch, ort: PyTorch (/usr/bin/python3, tuned and default) and onnxruntime-node,
                   timed in turns with convkit on the same cases (default: none)
  --compare FILE   an earlier run's JSON lines: each line gets its ratio to the matching one
  --json           JSON lines on a terminal too (they are the default when stdout is not a TTY)
  -h, --help       this text`;

const OPTIONS = {
  model: { type: 'string' },
  variant: { type: 'string' },
  pass: { type: 'string' },
  batch: { type: 'string' },
  device: { type: 'string' },
  rounds: { type: 'string' },
  warmup: { type: 'string' },
  'round-ms': { type: 'string' },
  quick: { type: 'boolean' },
  peers: { type: 'string' },
  compare: { type: 'string' },
  json: { type: 'boolean' },
  'no-ceiling': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const list = (s: string | undefined): string[] | undefined =>
  s === undefined
    ? undefined
    : s
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x.length > 0);

/** A whole number in [min, max] given as --name. */
function int(v: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max)
    throw new BenchUsageError(`--${name} must be a whole number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return n;
}

function oneOf<T extends string>(items: string[], allowed: readonly T[], flag: string): T[] {
  for (const x of items)
    if (!allowed.includes(x as T)) throw new BenchUsageError(`--${flag}: unknown ${JSON.stringify(x)} (expected ${allowed.join(', ')})`);
  return [...new Set(items)] as T[];
}

/** The model forms selected by --model (which may name forms as model:variant) and --variant. */
function forms(models: string[] | undefined, variants: string[] | undefined): Array<{ model: ModelName; variant: string }> {
  const out: Array<{ model: ModelName; variant: string }> = [];
  const add = (model: ModelName, variant: string) => {
    if (!out.some((f) => f.model === model && f.variant === variant)) out.push({ model, variant });
  };
  for (const spec of models ?? ['lenet5', 'alexnet']) {
    const [m, v, extra] = spec.split(':');
    if (m !== 'lenet5' && m !== 'alexnet')
      throw new BenchUsageError(`--model: unknown model ${JSON.stringify(m)} (expected lenet5 or alexnet)`);
    if (extra !== undefined) throw new BenchUsageError(`--model: ${JSON.stringify(spec)} is not MODEL or MODEL:VARIANT`);
    if (v !== undefined && !VARIANTS[m].includes(v))
      throw new BenchUsageError(`--model: ${m} has no form ${JSON.stringify(v)} (it has ${VARIANTS[m].join(', ')})`);
    const chosen = v !== undefined ? [v] : (variants ?? [...VARIANTS[m]]).filter((x) => VARIANTS[m].includes(x));
    for (const x of chosen) add(m, x);
  }
  const all = new Set(Object.values(VARIANTS).flat());
  for (const v of variants ?? [])
    if (!all.has(v)) throw new BenchUsageError(`--variant: unknown form ${JSON.stringify(v)} (expected ${[...all].join(', ')})`);
  if (!out.length)
    throw new BenchUsageError(
      `--variant ${variants?.join(',')} names no form of the chosen models (lenet5: modern, classic; alexnet: paper, owt)`,
    );
  return out;
}

/** Checks device specs' syntax; whether they can run is decided when the bench starts. */
function devices(specs: string[]): string[] {
  for (const d of specs)
    if (!/^(cpu|cuda)(:\d{1,2})?$/.test(d)) throw new BenchUsageError(`--device: ${JSON.stringify(d)} is not cpu, cpu:N or cuda:N`);
  return [...new Set(specs)];
}

/**
 * `--batch -4` joined into `--batch=-4`: parseArgs would call the value "ambiguous"; joined,
 * the flag's own check says what range it takes.
 */
function joinNegativeValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : '';
    const spec = (OPTIONS as Record<string, { type: string }>)[name];
    if (spec?.type === 'string' && /^-\d/.test(argv[i + 1] ?? '')) out.push(`${argv[i]}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

export function parseBenchArgs(argv: string[]): BenchOptions {
  let v;
  try {
    ({ values: v } = parseArgs({ args: joinNegativeValues(argv), options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (e) {
    throw new BenchUsageError((e as Error).message);
  }
  const quick = v.quick ?? false;
  const passes = oneOf(list(v.pass) ?? ['train', 'inference'], ['train', 'inference'] as const, 'pass');
  const batches = list(v.batch)?.map((b) => int(b, 'batch', 0, 1, 4096));
  if (batches && !batches.length) throw new BenchUsageError('--batch: give at least one batch size');
  const cases: BenchCase[] = [];
  for (const f of forms(list(v.model), list(v.variant)))
    for (const pass of passes)
      for (const batch of batches ?? (quick ? QUICK_BATCHES : DEFAULT_BATCHES)[f.model][pass]) cases.push({ ...f, pass, batch });
  const deviceList = list(v.device) ?? ['cpu'];
  if (!deviceList.length) throw new BenchUsageError('--device: give a device (cpu, cpu:N, cuda:N)');
  return {
    cases,
    devices: devices(deviceList),
    rounds: int(v.rounds, 'rounds', quick ? 3 : 5, 1, 1000),
    warmup: int(v.warmup, 'warmup', quick ? 1 : 2, 0, 100),
    roundMs: int(v['round-ms'], 'round-ms', quick ? 250 : 1000, 1, 600_000),
    peers: oneOf(list(v.peers) ?? [], ['torch', 'ort'] as const, 'peers'),
    json: v.json ?? false,
    quick,
    compare: v.compare,
    noCeiling: v['no-ceiling'] ?? false,
    help: v.help ?? false,
  };
}
