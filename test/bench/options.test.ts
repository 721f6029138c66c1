// convkit bench's selection: which cases a command line means, its defaults, and the errors for
// what it cannot mean (usage errors naming the flag; coded errors for devices it cannot run).
import t from 'tap';
import { BenchUsageError, parseBenchArgs } from '../../lib/bench/options.js';
import { benchDevice } from '../../lib/bench/run.js';

const caseNames = (argv: string[]) => parseBenchArgs(argv).cases.map((c) => `${c.model}:${c.variant}:${c.pass}:${c.batch}`);

t.test('defaults: every form, both passes, two batches each, 5 rounds after 2 warm-ups on cpu', async (t) => {
  const o = parseBenchArgs([]);
  t.same(caseNames([]), [
    'lenet5:modern:train:64',
    'lenet5:modern:train:256',
    'lenet5:modern:inference:1',
    'lenet5:modern:inference:256',
    'lenet5:classic:train:64',
    'lenet5:classic:train:256',
    'lenet5:classic:inference:1',
    'lenet5:classic:inference:256',
    'alexnet:paper:train:16',
    'alexnet:paper:train:64',
    'alexnet:paper:inference:1',
    'alexnet:paper:inference:32',
    'alexnet:owt:train:16',
    'alexnet:owt:train:64',
    'alexnet:owt:inference:1',
    'alexnet:owt:inference:32',
  ]);
  t.same(o.devices, ['cpu']);
  t.equal(o.rounds, 5);
  t.equal(o.warmup, 2);
  t.equal(o.roundMs, 1000);
  t.same(o.peers, []);
  t.equal(o.json, false);
  t.equal(o.compare, undefined);
});

t.test('--quick: one batch per pass, 3 shorter rounds after 1 warm-up', async (t) => {
  const o = parseBenchArgs(['--quick']);
  t.same(caseNames(['--quick']), [
    'lenet5:modern:train:64',
    'lenet5:modern:inference:1',
    'lenet5:classic:train:64',
    'lenet5:classic:inference:1',
    'alexnet:paper:train:16',
    'alexnet:paper:inference:1',
    'alexnet:owt:train:16',
    'alexnet:owt:inference:1',
  ]);
  t.equal(o.rounds, 3);
  t.equal(o.warmup, 1);
  t.equal(o.roundMs, 250);
  const r = parseBenchArgs(['--quick', '--rounds', '7', '--warmup', '0']);
  t.equal(r.rounds, 7, '--rounds overrides --quick');
  t.equal(r.warmup, 0, '--warmup 0 is allowed');
});

t.test('selection by model, form, pass and batch', async (t) => {
  t.same(caseNames(['--model', 'lenet5:classic', '--pass', 'inference', '--batch', '1,8']), [
    'lenet5:classic:inference:1',
    'lenet5:classic:inference:8',
  ]);
  t.same(caseNames(['--model', 'alexnet', '--variant', 'owt', '--pass', 'train', '--batch', '4']), ['alexnet:owt:train:4']);
  t.same(
    caseNames(['--variant', 'modern,paper', '--pass', 'train', '--batch', '2']),
    ['lenet5:modern:train:2', 'alexnet:paper:train:2'],
    '--variant picks forms across models',
  );
  t.same(
    caseNames(['--model', 'lenet5,lenet5:modern', '--pass', 'train', '--batch', '2']),
    ['lenet5:modern:train:2', 'lenet5:classic:train:2'],
    'a form named twice runs once',
  );
  const o = parseBenchArgs(['--peers', 'torch,ort', '--json', '--compare', 'old.jsonl', '--device', 'cpu:1']);
  t.same(o.peers, ['torch', 'ort']);
  t.equal(o.json, true);
  t.equal(o.compare, 'old.jsonl');
  t.same(o.devices, ['cpu:1']);
  t.same(parseBenchArgs(['--device', 'cpu:0,cpu:1']).devices, ['cpu:0', 'cpu:1'], 'several devices parse; running them is refused later');
});

t.test('usage errors name the flag and what it accepts', async (t) => {
  const bad: Array<[string[], RegExp]> = [
    [['--model', 'vgg'], /--model: unknown model "vgg"/],
    [['--model', 'lenet5:paper'], /lenet5 has no form "paper" \(it has modern, classic\)/],
    [['--model', 'lenet5', '--variant', 'owt'], /names no form of the chosen models/],
    [['--variant', 'tiny'], /--variant: unknown form "tiny"/],
    [['--pass', 'backward'], /--pass: unknown "backward" \(expected train, inference\)/],
    [['--batch', '0'], /--batch must be a whole number in \[1, 4096\], got "0"/],
    [['--batch', '-4'], /--batch must be a whole number/],
    [['--batch', '2.5'], /--batch must be a whole number/],
    [['--batch', ','], /--batch: give at least one batch size/],
    [['--rounds', '0'], /--rounds must be a whole number in \[1, 1000\]/],
    [['--warmup', 'x'], /--warmup must be a whole number/],
    [['--rounds', '-1'], /--rounds must be a whole number in \[1, 1000\], got "-1"/],
    [['--peers', 'tensorflow'], /--peers: unknown "tensorflow" \(expected torch, ort\)/],
    [['--device', 'gpu'], /--device: "gpu" is not cpu, cpu:N or cuda:N/],
    [['--frobnicate'], /Unknown option '--frobnicate'/],
    [['lenet5'], /positional/i],
  ];
  for (const [argv, msg] of bad) t.throws(() => parseBenchArgs(argv), { name: 'BenchUsageError', message: msg }, argv.join(' '));
  t.type(new BenchUsageError('x'), Error);
});

t.test('devices: one cpu stream runs; several are "not yet"; cuda:N without a GPU is ND_NO_CUDA', async (t) => {
  t.equal(benchDevice(['cpu']).name, 'cpu:0');
  t.equal(benchDevice(['cpu:1']).name, 'cpu:1');
  t.throws(() => benchDevice(['cpu:0', 'cpu:1']), { code: 'ND_ARG', message: /data-parallel replicas, which convkit does not have yet/ });
  if (process.env.CONVKIT_NO_CUDA) t.throws(() => benchDevice(['cuda:0']), { code: 'ND_NO_CUDA', message: /cuda:0/ });
  else t.pass('cuda:0 refusal', { skip: 'cuda:0 refusal: run with CONVKIT_NO_CUDA=1 to check it (a CUDA build may have a GPU)' });
});
