/**
 * Runs test cases in a child process, so that a case which crashes the process (a segfault, an
 * abort, a hang) is counted instead of taking the test runner down.
 *
 * Parent: runChildCases(runnerFile, cases) spawns `node <execArgv> runnerFile`, writes the
 * cases (JSON) to its stdin and reads one JSON line per case from its stdout. If the child dies
 * or stays silent for `caseTimeoutMs`, the case it was on is counted as crashed (with the signal
 * or exit code) and a fresh child continues from the next case.
 *
 * Child (the runner file): serveCases(handler) reads the cases and calls handler(case) for each;
 * a returned string is the case's detail when it passed (e.g. 'computed', 'rejected ND_ARG'),
 * a thrown error marks it failed with the error's message.
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';

export interface CaseOutcome {
  index: number;
  status: 'ok' | 'failed' | 'crashed';
  detail: string;
}

export interface CaseReport {
  ok: number;
  failed: number;
  crashed: number;
  outcomes: CaseOutcome[];
}

export interface ChildCaseOptions {
  /** Node flags for the child; defaults to this process's (the test runner's TypeScript loader). */
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  /** A case with no answer after this long is killed and counted as crashed. Default 30 s. */
  caseTimeoutMs?: number;
}

/** One child run over cases[start..]: the outcomes it reported, and how it ended. */
function runFrom(
  file: string,
  cases: readonly unknown[],
  start: number,
  o: ChildCaseOptions,
): Promise<{ outcomes: CaseOutcome[]; end: string | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(o.execArgv ?? process.execArgv), file], {
      env: o.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const outcomes: CaseOutcome[] = [];
    let buf = '';
    let stderr = '';
    let timedOut = false;
    let timer: NodeJS.Timeout;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, o.caseTimeoutMs ?? 30_000);
    };
    arm();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{"case":')) continue; // anything else the child printed
        const m = JSON.parse(line) as { case: number; status: 'ok' | 'failed'; detail: string };
        outcomes.push({ index: start + m.case, status: m.status, detail: m.detail });
        arm();
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => {
      stderr = (stderr + c).slice(-2000);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const clean = code === 0 && signal === null && start + outcomes.length === cases.length;
      const why = timedOut ? 'timed out' : signal ? `signal ${signal}` : `exit code ${code}`;
      resolve({ outcomes, end: clean ? null : `${why}; stderr: ${stderr.trim().split('\n').slice(-3).join(' | ')}` });
    });
    child.stdin.on('error', () => undefined); // the child may die before reading everything
    child.stdin.end(JSON.stringify(cases.slice(start)));
  });
}

export async function runChildCases(file: string, cases: readonly unknown[], opts: ChildCaseOptions = {}): Promise<CaseReport> {
  const report: CaseReport = { ok: 0, failed: 0, crashed: 0, outcomes: [] };
  let next = 0;
  while (next < cases.length) {
    const { outcomes, end } = await runFrom(file, cases, next, opts);
    for (const c of outcomes) {
      report.outcomes.push(c);
      report[c.status]++;
    }
    next += outcomes.length;
    if (end !== null && next < cases.length) {
      // The child died (or hung) on case `next`: count it and go on with a fresh child.
      report.outcomes.push({ index: next, status: 'crashed', detail: end });
      report.crashed++;
      next++;
    } else if (end !== null) break;
  }
  return report;
}

/** Child side: answers every case on stdin with one JSON line. */
export async function serveCases<C>(handler: (c: C, index: number) => string | Promise<string>): Promise<void> {
  let input = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) input += chunk;
  const cases = JSON.parse(input) as C[];
  for (let i = 0; i < cases.length; i++) {
    let line: string;
    try {
      line = JSON.stringify({ case: i, status: 'ok', detail: await handler(cases[i], i) });
    } catch (e) {
      line = JSON.stringify({ case: i, status: 'failed', detail: String((e as Error)?.stack ?? e).slice(0, 600) });
    }
    // Written synchronously, so a crash in the next case cannot lose this answer.
    writeLine(line);
  }
}

function writeLine(line: string): void {
  writeSync(1, line + '\n');
}
