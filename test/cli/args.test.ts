// The CLI's front door: --version, help per command (every option with a description and its
// default), and usage errors (exit 2) for negative values, out-of-range values, --epochs 0,
// unknown options and commands; a device that cannot be used is the library's coded error (exit 1).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS } from '../../lib/cli/main.js';
import { COMMON } from '../../lib/cli/args.js';
import { MNIST, ROOT, cliHere } from './helpers.js';

t.test('--version prints package.json version', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = await cliHere('--version');
  t.equal(r.code, 0);
  t.equal(r.stdout.trim(), `convkit ${pkg.version}`);
});

t.test('--help lists the commands; each command has its own help', async (t) => {
  const r = await cliHere('--help');
  t.equal(r.code, 0);
  for (const name of Object.keys(COMMANDS)) t.match(r.stdout, name, `lists ${name}`);
  const none = await cliHere();
  t.equal(none.code, 2, 'no command is a usage error');
  const seen = new Set<string>();
  for (const [name, c] of Object.entries(COMMANDS)) {
    if (!('options' in c.spec)) continue; // a command that parses its own arguments
    const h = await cliHere(...name.split(' '), '--help');
    t.equal(h.code, 0, `${name} --help`);
    t.match(h.stdout, `usage: convkit ${name}`);
    for (const [opt, spec] of Object.entries({ ...c.spec.options, ...COMMON })) {
      t.match(h.stdout, `--${opt}`, `${name}: --${opt} is listed`);
      t.ok(spec.desc.length > 10, `${name}: --${opt} has a description`);
      t.ok(h.stdout.includes(spec.desc), `${name}: --${opt}'s description is printed`);
      if (spec.default !== undefined) t.ok(h.stdout.includes(`(default: ${spec.default})`), `${name}: --${opt}'s default is printed`);
      if (spec.type === 'string' && !['data', 'model', 'resume', 'list', 'log', 'title', 'onnx'].includes(opt) && opt !== 'out')
        t.ok(spec.default !== undefined, `${name}: --${opt} states its default`);
    }
    seen.add(h.stdout);
  }
  t.equal(seen.size, Object.values(COMMANDS).filter((c) => 'options' in c.spec).length, 'no two commands print the same help');
  const train = await cliHere('train', '--help');
  t.equal(train.code, 0);
  t.match(train.stdout, /train lenet5 .*\n.*train alexnet/, 'train --help lists the models');
  const help = await cliHere('help', 'evaluate');
  t.match(help.stdout, 'usage: convkit evaluate');
});

t.test('the defaults that matter are in train lenet5 --help', async (t) => {
  const h = (await cliHere('train', 'lenet5', '--help')).stdout;
  t.match(h, /--weight-decay X.*\(default: 5e-4\)/);
  t.match(h, /--lr-milestones.*50% and 75% of --epochs/);
  t.match(h, /--lr-factor X.*\(default: 5\)/);
  t.match(h, /--val-split N.*\(default: 5000\)/);
  t.match(h, /--epochs N.*5 \(modern\), 20 \(classic\)/);
});

t.test('usage errors exit 2 and say what is wrong', async (t) => {
  const data = ['--data', MNIST];
  const cases: Array<[string[], RegExp]> = [
    [['train', 'lenet5', ...data, '--lr', '-1'], /--lr -1: a value that starts with '-' reads as an option; write it as --lr=-1/],
    [['train', 'lenet5', ...data, '--lr=-1'], /--lr must be > 0, got -1/],
    [['train', 'lenet5', ...data, '--lr=0'], /--lr must be > 0, got 0/],
    [['train', 'lenet5', ...data, '--epochs', '0'], /--epochs must be >= 1/],
    [['train', 'lenet5', ...data, '--epochs', '2.5'], /--epochs must be an integer, got "2.5"/],
    [['train', 'lenet5', ...data, '--momentum', '1'], /--momentum must be >= 0 and < 1, got 1/],
    [['train', 'lenet5', ...data, '--weight-decay=-0.1'], /--weight-decay must be >= 0/],
    [['train', 'lenet5', ...data, '--batch', 'x'], /--batch must be an integer, got "x"/],
    [['train', 'lenet5', ...data, '--val-split', '60000'], /--val-split must be >= 0 and <= 59999/],
    [['train', 'lenet5', ...data, '--variant', 'lenet1'], /--variant must be modern or classic/],
    [['train', 'lenet5', ...data, '--device', 'gpu'], /--device must be cpu, cpu:N or cuda:N, got "gpu"/],
    [['train', 'lenet5', ...data, '--log-every', '0'], /--log-every must be >= 1/],
    [['train', 'lenet5', ...data, '--bogus'], /unknown option --bogus/],
    [['train', 'lenet5'], /--data DIR is required/],
    [['train', 'vgg'], /unknown model "vgg"/],
    [['train'], /name the model/],
    [['fly'], /unknown command "fly"/],
    [['evaluate', '--model', 'x.safetensors'], /--model FILE and --data DIR are required/],
    [['evaluate', '--epochs', '3'], /unknown option --epochs/],
    [['predict', '--model', 'x.safetensors', '--top', '0'], /--top must be >= 1/],
    [['plot'], /give one log file/],
    [['plot', 'run.jsonl', '-o', 'x.pdf'], /-o must end in .svg, .png or .html/],
  ];
  for (const [args, re] of cases) {
    const r = await cliHere(...args);
    t.equal(r.code, 2, `${args.join(' ')} exits 2`);
    t.match(r.stderr, re, args.join(' '));
    t.match(r.stderr, /\(see convkit .*--help\)/, 'points at the help');
  }
});

t.test('--device cuda:N without a usable GPU is the library coded error, exit 1', async (t) => {
  for (const cmd of [
    ['train', 'lenet5', '--data', MNIST, '--no-save'],
    ['evaluate', '--model', 'x.safetensors', '--data', MNIST],
    ['predict', '--model', 'x.safetensors'],
  ]) {
    const r = await cliHere(...cmd, '--device', 'cuda:0');
    // Under the suite's CONVKIT_NO_CUDA=1 (or on a machine without a GPU) cuda:0 cannot be used.
    t.equal(r.code, 1, `${cmd[0]}: a failure, not a crash or a usage error`);
    t.match(r.stderr, /convkit: ND_(NO_CUDA|ARG|CUDA): device: 'cuda:0'/, `${cmd[0]}: the coded error`);
  }
  const r = await cliHere('train', 'lenet5', '--data', MNIST, '--device', 'cpu:99');
  t.equal(r.code, 1);
  t.match(r.stderr, /ND_ARG: device: cpu stream index 99 out of range/);
});
