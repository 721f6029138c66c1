#!/usr/bin/env node
// The longer fuzz run: the seeded fuzzers of test/fuzz (the same ones CI runs at their default
// size) with every case count multiplied, and a seed to explore other inputs or replay a run.
//
//   npm run fuzz                                 # scale 10, seed 0
//   node scripts/fuzz.mjs --scale 50 --seed 7    # more cases, other inputs
//   node scripts/fuzz.mjs test/fuzz/idx-fuzz.test.ts --scale 100
//
// tap's output passes through; at the end one JSON line per fuzzer reports its counts
// (cases, read, errors by code, crashes, hangs), read from the fuzzers' summary comments.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
let scale = 10;
let seed = 0;
const files = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--scale' || a === '--cases') scale = Number(args[++i]);
  else if (a === '--seed') seed = Number(args[++i]);
  else if (a === '--help' || a === '-h') {
    console.log('usage: node scripts/fuzz.mjs [--scale N (default 10)] [--seed N] [test files...]');
    process.exit(0);
  } else files.push(a);
}
if (!(scale > 0) || !Number.isSafeInteger(seed)) {
  console.error(`fuzz: --scale must be > 0 and --seed an integer (got ${scale}, ${seed})`);
  process.exit(2);
}
const targets = files.length
  ? files
  : readdirSync(join(root, 'test', 'fuzz'))
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => join('test', 'fuzz', f));

const env = {
  ...process.env,
  CONVKIT_FUZZ_SCALE: String(scale),
  CONVKIT_FUZZ_SEED: String(seed),
  CONVKIT_NO_CUDA: process.env.CONVKIT_NO_CUDA ?? '1',
};
const tap = join(root, 'node_modules', '.bin', 'tap');
const child = spawn(tap, [...targets, '--timeout', '7200', '--jobs', '1'], { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] });
const summaries = [];
let buf = '';
child.stdout.on('data', (c) => {
  process.stdout.write(c);
  buf += c.toString();
  let nl;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    const m =
      /# (.+?): (\d+) cases in (\d+) child process\(es\): (\d+) read, errors: (.*); (\d+) crashes, (\d+) hangs; peak child RSS (\d+) MiB/.exec(
        line,
      );
    if (!m) continue;
    const errors =
      m[5] === 'none'
        ? {}
        : Object.fromEntries(
            m[5]
              .split(', ')
              .map((e) => e.split(' '))
              .map(([k, v]) => [k, Number(v)]),
          );
    summaries.push({
      fuzzer: m[1],
      scale,
      seed,
      cases: Number(m[2]),
      children: Number(m[3]),
      read: Number(m[4]),
      errors,
      crashes: Number(m[6]),
      hangs: Number(m[7]),
      peakChildRssMiB: Number(m[8]),
    });
  }
});
child.on('exit', (code, signal) => {
  for (const s of summaries) console.log(JSON.stringify(s));
  process.exit(code ?? (signal ? 1 : 0));
});
