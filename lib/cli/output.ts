/** Where a command's progress and results go: the terminal (bar or JSON lines) and --log FILE. */
import { num, type OptionSpec, type Values } from './args.js';
import { barReporter, fileReporter, jsonReporter, tee, type Reporter } from './progress.js';

/** The options of commands that train (see progress.ts). */
export const LOG_OPTIONS: Record<string, OptionSpec> = {
  log: { type: 'string', arg: 'FILE', desc: 'also write the JSON lines to FILE (appended to when resuming), for `convkit plot FILE`' },
  'log-every': {
    type: 'string',
    arg: 'N',
    desc: 'JSON lines: one batch line in N (epoch lines are always written)',
    default: 'about 20 batch lines per epoch',
  },
};

/** The terminal's reporter: JSON lines with --json or when stdout is not a terminal, else the bar. */
export function screenFor(v: Values, logEvery?: number): Reporter {
  return v.json || !process.stdout.isTTY ? jsonReporter(undefined, { logEvery }) : barReporter();
}

export function outputFor(v: Values, o: { append?: boolean } = {}): Reporter {
  const logEvery = v['log-every'] === undefined ? undefined : num(v['log-every'] as string, 'log-every', 1, true, { min: 1 });
  const screen = screenFor(v, logEvery);
  return typeof v.log === 'string' ? tee(screen, fileReporter(v.log, { logEvery, append: o.append })) : screen;
}
