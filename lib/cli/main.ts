/**
 * The `convkit` command: a table of commands, each with its options (args.ts), its help and its
 * runner in a file of its own. Exit code 0 on success, 1 on a failure (with the error's code and
 * message), 2 on a usage error (with a pointer to the command's --help).
 */
import { readFileSync } from 'node:fs';
import type { ConvkitError } from '../errors.js';
import { TRAIN_ALEXNET, trainAlexnet } from './alexnet.js';
import { UsageError, helpText, parseCommand, type CommandSpec, type Values } from './args.js';
import { EVALUATE, evaluateCmd } from './evaluate.js';
import { EXPORT, exportCmd } from './export.js';
import { LAUNCH, launchMain } from './launch.js';
import { PLOT, plotCmd } from './plot.js';
import { PREDICT, predictCmd } from './predict.js';
import { TRAIN_LENET5, trainLenet5 } from './train-lenet5.js';

/**
 * A command: its options table and a runner of the parsed values, or (`raw`) a runner of its own
 * argv that returns the exit code, for a command that parses its arguments itself.
 */
export type Command =
  | { spec: CommandSpec; run(values: Values, positionals: string[]): Promise<void> }
  | { spec: Pick<CommandSpec, 'name' | 'summary'>; raw(argv: string[]): Promise<number> };

/** Every command, by the words that name it. New commands add one entry here. */
export const COMMANDS: Record<string, Command> = {
  'train lenet5': { spec: TRAIN_LENET5, run: (v) => trainLenet5(v) },
  'train alexnet': { spec: TRAIN_ALEXNET, run: (v) => trainAlexnet(v) },
  evaluate: { spec: EVALUATE, run: (v) => evaluateCmd(v) },
  predict: { spec: PREDICT, run: (v, p) => predictCmd(v, p) },
  plot: { spec: PLOT, run: (v, p) => plotCmd(v, p) },
  export: { spec: EXPORT, run: (v) => exportCmd(v) },
  // `launch` passes everything after its script to the script, so it splits argv itself.
  launch: { spec: LAUNCH, raw: (argv) => launchMain(argv) },
  // `bench` has its own options and help (lib/bench/options.ts).
  bench: {
    spec: {
      name: 'bench',
      summary: 'Time LeNet-5 and AlexNet training and inference, with PyTorch and onnxruntime-node in turns (JSON lines).',
    },
    raw: async (argv) => (await import('../bench/command.js')).benchMain(argv),
  },
};

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function overview(): string {
  const names = Object.keys(COMMANDS);
  const pad = Math.max(...names.map((n) => n.length)) + 2;
  return [
    'usage: convkit COMMAND [options]        (convkit COMMAND --help: its options and their defaults)',
    '',
    'commands:',
    ...names.map((n) => `  ${n.padEnd(pad)}${COMMANDS[n].spec.summary}`),
    '',
    '  --version   print the version',
    '  --help      print this help',
  ].join('\n');
}

/** The command named by the first words of argv, and the rest. */
function resolve(argv: string[]): { name: string; rest: string[] } | null {
  const [a, b] = argv;
  if (a === 'train') {
    const models = Object.keys(COMMANDS).filter((n) => n.startsWith('train '));
    if (b === '--help' || b === '-h') return { name: 'train', rest: [] };
    if (b === undefined || b.startsWith('-')) throw new UsageError(`train: name the model: ${models.join(', ')}`);
    const name = `train ${b}`;
    if (!COMMANDS[name]) throw new UsageError(`train: unknown model ${JSON.stringify(b)} (this version trains lenet5 and alexnet)`);
    return { name, rest: argv.slice(2) };
  }
  if (a === undefined || a.startsWith('-')) return null;
  if (a === 'help') {
    const sub = argv.slice(1).join(' ');
    if (sub && COMMANDS[sub]) return { name: sub, rest: ['--help'] };
    return null;
  }
  if (!COMMANDS[a]) throw new UsageError(`unknown command ${JSON.stringify(a)}`);
  return { name: a, rest: argv.slice(1) };
}

export async function main(argv: string[]): Promise<number> {
  let cmd: { name: string; rest: string[] } | null = null;
  try {
    cmd = resolve(argv);
    if (cmd?.name === 'train') {
      const models = Object.entries(COMMANDS).filter(([n]) => n.startsWith('train '));
      process.stdout.write(
        [
          'usage: convkit train MODEL [options]   (convkit train MODEL --help: its options)',
          '',
          ...models.map(([n, c]) => `  ${n.padEnd(15)}${c.spec.summary}`),
        ].join('\n') + '\n',
      );
      return 0;
    }
    if (!cmd) {
      if (argv[0] === '--version' || argv[0] === '-v') process.stdout.write(`convkit ${version()}\n`);
      else if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') process.stdout.write(overview() + '\n');
      else if (argv.length === 0) {
        process.stderr.write(overview() + '\n');
        return 2;
      } else throw new UsageError(`unknown option ${argv[0]}`);
      return 0;
    }
    const c = COMMANDS[cmd.name];
    if ('raw' in c) return await c.raw(cmd.rest);
    const { values, positionals } = parseCommand(c.spec, cmd.rest);
    if (values.help) {
      process.stdout.write(helpText(c.spec) + '\n');
      return 0;
    }
    if (!c.spec.positionals && positionals.length)
      throw new UsageError(`${cmd.name}: unexpected argument ${JSON.stringify(positionals[0])}`);
    await c.run(values, positionals);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      const see = cmd ? `convkit ${cmd.name} --help` : 'convkit --help';
      process.stderr.write(`convkit: ${e.message}\n(see ${see})\n`);
      return 2;
    }
    const code = (e as ConvkitError).code ?? 'ERROR';
    process.stderr.write(`convkit: ${code}: ${(e as Error).message}\n`);
    return 1;
  }
}
