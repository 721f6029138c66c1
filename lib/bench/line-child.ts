/**
 * A child process spoken to in JSON lines: one request line on its stdin, one answer line on its
 * stdout, in order. The PyTorch peer runs this way so that the bench can time it one round at a
 * time, in turns with convkit. A child that exits, or does not answer in time, fails the pending
 * request with a message (its stderr's last line included) and every later one at once: a broken
 * peer never stalls the bench.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type Answer = Record<string, unknown> & { ok?: boolean; reason?: string };

interface Pending {
  resolve(a: Answer): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

export class LineChild {
  private readonly child: ChildProcess;
  private readonly pending: Pending[] = [];
  private dead: string | null = null;
  private stderrTail = '';

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.on('error', (e) => this.fail(`${command} did not start: ${e.message}`));
    this.child.on('exit', (code, signal) => this.fail(`${command} exited (${signal ?? `code ${code}`})${this.lastStderr()}`));
    this.child.stdin!.on('error', () => {}); // EPIPE after an exit: reported by 'exit'
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-2000);
    });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      const p = this.pending.shift();
      if (!p) return;
      clearTimeout(p.timer);
      try {
        p.resolve(JSON.parse(line) as Answer);
      } catch {
        p.reject(new Error(`${command} answered a line that is not JSON: ${line.slice(0, 200)}`));
      }
    });
  }

  private lastStderr(): string {
    const last = this.stderrTail.trim().split('\n').pop();
    return last ? `: ${last}` : '';
  }

  private fail(why: string): void {
    if (this.dead) return;
    this.dead = why;
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(new Error(why));
    }
  }

  /** The first line the child prints by itself (its greeting). */
  greeting(timeoutMs: number): Promise<Answer> {
    return this.wait(timeoutMs);
  }

  /** Sends one request and resolves with its answer. */
  request(req: Record<string, unknown>, timeoutMs: number): Promise<Answer> {
    const answer = this.wait(timeoutMs);
    if (!this.dead) this.child.stdin!.write(JSON.stringify(req) + '\n');
    return answer;
  }

  private wait(timeoutMs: number): Promise<Answer> {
    if (this.dead) return Promise.reject(new Error(this.dead));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(`no answer within ${Math.round(timeoutMs / 1000)} s${this.lastStderr()}`);
        this.child.kill('SIGKILL');
      }, timeoutMs);
      this.pending.push({ resolve, reject, timer });
    });
  }

  /** Asks the child to quit, and kills it if it has not within a second. */
  async close(): Promise<void> {
    if (this.dead) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end(JSON.stringify({ op: 'quit' }) + '\n');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 1000);
    await exited;
    clearTimeout(timer);
  }
}
