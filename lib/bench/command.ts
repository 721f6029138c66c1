/**
 * `convkit bench`: parses its arguments, runs the selection and prints it: JSON lines when stdout
 * is not a terminal or with --json, a table on a terminal. Progress goes to stderr on a terminal.
 * Returns the exit code: 0 done, 1 a failure (its code and message on stderr), 2 a usage error.
 */
import type { ConvkitError } from '../errors.js';
import type { Line } from './lines.js';
import { BENCH_USAGE, BenchUsageError, parseBenchArgs, type BenchOptions } from './options.js';
import { runBench, type BenchSink } from './run.js';
import { tableHeader, tableText } from './table.js';

export interface BenchIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

function sinkFor(o: BenchOptions, io: BenchIo): BenchSink {
  const progress = (msg: string) => {
    if (io.stderr.isTTY) io.stderr.write(`bench: ${msg}\n`);
  };
  if (o.json || !io.stdout.isTTY) return { line: (l: Line) => io.stdout.write(JSON.stringify(l) + '\n'), progress };
  let header = false;
  return {
    line(l: Line) {
      if (l.type === 'result' && !header) {
        io.stdout.write(`\n${tableHeader()}\n`);
        header = true;
      }
      const text = tableText(l);
      if (text !== null) io.stdout.write(text + '\n');
    },
    progress,
  };
}

export async function benchMain(argv: string[], io: BenchIo = process): Promise<number> {
  let o: BenchOptions;
  try {
    o = parseBenchArgs(argv);
  } catch (e) {
    if (!(e instanceof BenchUsageError)) throw e;
    io.stderr.write(`convkit bench: ${e.message}\n${BENCH_USAGE}\n`);
    return 2;
  }
  if (o.help) {
    io.stdout.write(BENCH_USAGE + '\n');
    return 0;
  }
  try {
    await runBench(o, sinkFor(o, io));
    return 0;
  } catch (e) {
    const code = (e as ConvkitError).code ?? 'ERROR';
    io.stderr.write(`convkit bench: ${code}: ${(e as Error).message}\n`);
    return 1;
  }
}
