/**
 * A generic runner for seeded file fuzzers. The cases (files already written, plus what to do
 * with them) go to a child process that reads them one by one and reports each outcome
 * (file-fuzz-child.ts); a crash or a hang kills only that child: the case is counted, and a new
 * child resumes at the next case. Then `checkFuzz` asserts what every reader promises: no crash,
 * no hang, every failure a coded convkit error, every valid input read, no broken invariant, and
 * no runaway memory.
 *
 * Sizes: CONVKIT_FUZZ_SCALE scales every fuzzer's case count (1 = the CI default; `npm run
 * fuzz` sets more), CONVKIT_FUZZ_SEED replays a run.
 */
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildCase } from './file-fuzz-child.js';
import { childEnv, transpiled } from './transpiled.js';

export interface FuzzCase extends ChildCase {
  /** What was done to the input, for messages. */
  name: string;
  /** An unmutated input: it must read without error. */
  valid?: boolean;
}

interface Outcome {
  i: number;
  ok: boolean;
  code?: string | null;
  name?: string;
  convkit?: boolean;
  message?: string;
  broken?: string | null;
}

export interface FuzzReport {
  cases: number;
  read: number;
  errors: Record<string, number>;
  crashes: { i: number; how: string }[];
  hangs: number[];
  outcomes: (Outcome | null)[];
  children: number;
  maxRss: number;
}

/** The case count for a fuzzer whose CI default is `n`. */
export function fuzzCases(n: number): number {
  const scale = Number(process.env.CONVKIT_FUZZ_SCALE ?? 1);
  return Math.max(1, Math.round(n * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}

/** The seed for a fuzzer (CONVKIT_FUZZ_SEED shifts every fuzzer's seed). */
export function fuzzSeed(base: number): number {
  return (base + Number(process.env.CONVKIT_FUZZ_SEED ?? 0)) >>> 0;
}

/** Runs `cases` through the child script (a repository path such as 'test/fuzz/file-reader-child.ts'). */
export async function runFileFuzz(
  childScript: string,
  cases: FuzzCase[],
  dir: string,
  opts: { caseTimeoutMs?: number } = {},
): Promise<FuzzReport> {
  const manifest = join(dir, 'manifest.json');
  writeFileSync(manifest, JSON.stringify(cases.map(({ kind, files, options }) => ({ kind, files, options }))));
  const script = transpiled(childScript);
  const report: FuzzReport = {
    cases: cases.length,
    read: 0,
    errors: {},
    crashes: [],
    hangs: [],
    outcomes: cases.map(() => null),
    children: 0,
    maxRss: 0,
  };
  const timeout = opts.caseTimeoutMs ?? 30_000;
  let next = 0;
  let stuck = 0;
  while (next < cases.length) {
    report.children++;
    const { current, done, how, timedOut } = await new Promise<{ current: number | null; done: boolean; how: string; timedOut: boolean }>(
      (resolve, reject) => {
        const p = spawn(process.execPath, ['--max-old-space-size=1024', script, manifest, String(next)], {
          env: childEnv(),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let current: number | null = null;
        let done = false;
        let timedOut = false;
        let buf = '';
        let stderr = '';
        let timer: NodeJS.Timeout | undefined;
        const arm = (): void => {
          clearTimeout(timer);
          timer = setTimeout(() => {
            timedOut = true;
            p.kill('SIGKILL');
          }, timeout);
        };
        arm();
        p.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
        p.stdout.on('data', (c: Buffer) => {
          buf += c.toString();
          let nl;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const msg = JSON.parse(buf.slice(0, nl)) as Outcome & { start?: number; done?: boolean; maxRss?: number };
            buf = buf.slice(nl + 1);
            if (msg.start !== undefined) {
              current = msg.start;
              arm();
            } else if (msg.done) {
              done = true;
              report.maxRss = Math.max(report.maxRss, msg.maxRss ?? 0);
            } else {
              report.outcomes[msg.i] = msg;
              current = null;
            }
          }
        });
        p.once('error', reject);
        p.once('exit', (code, signal) => {
          clearTimeout(timer);
          resolve({
            current,
            done,
            timedOut,
            how: `${signal ?? `exit code ${code}`}${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
          });
        });
      },
    );
    if (done) break;
    if (current === null) {
      // Died between cases (or before the first): resume after the last reported case.
      let last = report.outcomes.length - 1; // findLastIndex is ES2023; the build targets ES2022
      while (last >= 0 && report.outcomes[last] === null) last--;
      if (++stuck > 2) throw new Error(`the fuzz child keeps dying outside any case: ${how}`);
      next = Math.max(next, last + 1);
      continue;
    }
    stuck = 0;
    if (timedOut) report.hangs.push(current);
    else report.crashes.push({ i: current, how });
    next = current + 1;
  }
  for (const o of report.outcomes) {
    if (!o) continue;
    if (o.ok) report.read++;
    else report.errors[String(o.code)] = (report.errors[String(o.code)] ?? 0) + 1;
  }
  return report;
}

/** Asserts the promises of a file reader over a fuzz report, and prints the counts. */
export function checkFuzz(t: Test, label: string, cases: FuzzCase[], r: FuzzReport, opts: { codes: string[]; maxRssBytes?: number }): void {
  const errors =
    Object.entries(r.errors)
      .map(([c, n]) => `${c} ${n}`)
      .join(', ') || 'none';
  t.comment(
    `${label}: ${r.cases} cases in ${r.children} child process(es): ${r.read} read, errors: ${errors}; ${r.crashes.length} crashes, ${r.hangs.length} hangs; peak child RSS ${(r.maxRss / 2 ** 20).toFixed(0)} MiB`,
  );
  const show = (i: number): string => `case ${i} (${cases[i]!.kind}: ${cases[i]!.name})`;
  t.same(
    r.crashes.map((c) => `${show(c.i)}: ${c.how}`),
    [],
    `${label}: no case crashed the process`,
  );
  t.same(r.hangs.map(show), [], `${label}: no case hung`);
  const missing = r.outcomes.flatMap((o, i) => (o || r.crashes.some((c) => c.i === i) || r.hangs.includes(i) ? [] : [show(i)]));
  t.same(missing, [], `${label}: every case reported an outcome`);
  const uncoded = r.outcomes.flatMap((o, i) =>
    o && !o.ok && !(o.convkit && opts.codes.includes(String(o.code))) ? [`${show(i)}: ${o.name} ${o.code}: ${o.message}`] : [],
  );
  t.same(uncoded, [], `${label}: every failure is a convkit error coded ${opts.codes.join(' or ')}`);
  const broken = r.outcomes.flatMap((o, i) => (o?.ok && o.broken ? [`${show(i)}: ${o.broken}`] : []));
  t.same(broken, [], `${label}: every input that was read gave a consistent result`);
  const invalid = cases.flatMap((c, i) => (c.valid && !r.outcomes[i]?.ok ? [`${show(i)}: ${r.outcomes[i]?.message}`] : []));
  t.same(invalid, [], `${label}: all ${cases.filter((c) => c.valid).length} unmutated inputs read`);
  const bound = opts.maxRssBytes ?? 1.5 * 2 ** 30;
  t.ok(
    r.maxRss < bound,
    `${label}: peak child RSS ${(r.maxRss / 2 ** 20).toFixed(0)} MiB < ${(bound / 2 ** 20).toFixed(0)} MiB (inputs are at most a few MB)`,
  );
}
