// Issue 9, finding 4: a process killed (SIGKILL) at any moment of a save must leave the newest
// pair that was reported saved, or a later committed one, loadable and resumable, and the next
// save must leave no temporary files behind. Children train a real LeNet-5 and save after every
// step (checkpoint-kill-child.ts); they are killed at every step of the protocol (the child
// kills itself from the step hook: deterministic) and at random moments inside the save window.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { SGD, loadCheckpoint, restoreModel } from '../../lib/index.js';
import { rng } from '../helpers/rng.js';
import { childEnv, transpiled } from '../helpers/transpiled.js';

interface Run {
  lines: string[][];
  signal: NodeJS.Signals | null;
  code: number | null;
}

const child = transpiled('test/io/checkpoint-kill-child.ts');

/** Runs the child; `onLine` may kill it. */
function runChild(path: string, env: Record<string, string>, onLine?: (words: string[], kill: () => void) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, path], { env: childEnv(env), stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[][] = [];
    let buf = '';
    p.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const words = buf.slice(0, nl).split(' ');
        buf = buf.slice(nl + 1);
        lines.push(words);
        onLine?.(words, () => p.kill('SIGKILL'));
      }
    });
    p.once('error', reject);
    p.once('exit', (code, signal) => resolve({ lines, code, signal }));
  });
}

/** What the parent knows of the saves so far: every id's save number and weight sum, and the order of events. */
class Ledger {
  readonly saves = new Map<string, { save: number; sum: number }>();
  /** The newest id whose save returned ("reported saved"). */
  reported: string | null = null;
  /** The newest id known committed (reported, or announced at its weights rename). */
  committed: string | null = null;
  /** Ids begun after `committed`: a kill may land between the rename and the announcement. */
  begunAfter: string[] = [];
  nextSave = 1;

  take(run: Run): void {
    for (const [kind, id, save, sum] of run.lines) {
      if (kind === 'begin') {
        this.saves.set(id!, { save: Number(save), sum: Number(sum) });
        this.begunAfter.push(id!);
        this.nextSave = Number(save) + 1;
      } else if (kind === 'committed' || kind === 'saved') {
        if (kind === 'saved') this.reported = id!;
        if (this.committed !== id) {
          this.committed = id!;
          this.begunAfter = [];
        }
      }
    }
  }
}

function staleFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n !== 'ck.safetensors' && n !== 'ck.optim.safetensors');
}

/** The loaded pair is the one expected, coherent (its weights, position and meta from one save), and a model resumes from it. */
async function checkLoad(t: Test, path: string, ledger: Ledger, allowed: string[], what: string, resume: boolean): Promise<string | null> {
  const ck = await loadCheckpoint(path).catch((e: Error) => e);
  if (ck instanceof Error) {
    t.fail(`${what}: the newest pair does not load: ${ck.message}`);
    return null;
  }
  t.ok(
    allowed.includes(ck.checkpointId),
    `${what}: loaded ${ck.checkpointId.slice(0, 8)}, allowed ${allowed.map((a) => a.slice(0, 8)).join(' or ')}`,
  );
  const known = ledger.saves.get(ck.checkpointId);
  if (known) {
    t.equal(ck.position.step, known.save, `${what}: the optimizer file's position is from the same save`);
    t.equal(ck.meta.save, known.save, `${what}: the weights' meta is from the same save`);
    let sum = 0;
    for (const p of Object.values(ck.params)) for (const v of p.data) sum += v;
    t.equal(sum, known.sum, `${what}: the weights are that save's weights`);
  }
  if (resume) {
    const { model, checkpoint } = await restoreModel(path);
    const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
    opt.loadState(checkpoint.optimizer as never);
    t.equal(opt.state().size, model.parameters().length, `${what}: resumes with every momentum buffer`);
    model.dispose();
  }
  return ck.checkpointId;
}

// Each step of saveCheckpoint's protocol, with the n-th time it is reached (the chunk steps fire
// once per chunk: the first leaves a file holding only its 8-byte length). 'rolled-forward' is
// reached only when the previous run was killed after its commit.
const POINTS: [string, number][] = [
  ['begin', 1],
  ['recovered', 1],
  ['optim-chunk', 1],
  ['optim-chunk', 3],
  ['optim-synced', 1],
  ['weights-chunk', 1],
  ['weights-chunk', 3],
  ['weights-written', 1],
  ['weights-renamed', 1],
  ['rolled-forward', 1],
  ['committed', 1],
  ['rolled-forward', 1],
  ['optim-renamed', 1],
  ['done', 1],
];

t.test('SIGKILL at every step of the save protocol', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'ck.safetensors');
  const ledger = new Ledger();
  ledger.take(await runChild(path, { SAVES: '1', FIRST_SAVE: '1' }));
  t.ok(ledger.reported, 'a first pair is saved');
  let runs = 0;
  let killed = 0;
  for (const [step, nth] of POINTS) {
    // First the save killed is the run's first (the previous run's leftovers still lie there),
    // then its second (after one complete save in this run).
    for (const which of [0, 1]) {
      const first = ledger.nextSave;
      const run = await runChild(path, {
        FIRST_SAVE: String(first),
        SAVES: String(which + 1),
        KILL_SAVE: String(first + which),
        KILL_STEP: step,
        KILL_NTH: String(nth),
      });
      runs++;
      if (run.signal === 'SIGKILL') killed++;
      else t.equal(run.code, 0, `${step}#${nth}: a child not killed exits cleanly`);
      ledger.take(run);
      const what = `killed at ${step}#${nth} of save ${first + which}`;
      // Every step is synchronous with the child's output, so the newest committed id is known exactly.
      await checkLoad(t, path, ledger, [ledger.committed!], what, runs % 4 === 0);
      const stale = staleFiles(dir);
      t.ok(stale.length <= 2, `${what}: at most the killed save's two files are left over (${stale.join(', ') || 'none'})`);
    }
  }
  t.ok(killed >= POINTS.length * 2 - 4, `${killed} of ${runs} runs were killed inside a save`);
  // One more save cleans up what the last kill left.
  const last = await runChild(path, { FIRST_SAVE: String(ledger.nextSave), SAVES: '1' });
  ledger.take(last);
  t.same(staleFiles(dir), [], 'after the next save only the pair is left');
  t.same(readdirSync(dir).sort(), ['ck.optim.safetensors', 'ck.safetensors']);
  await checkLoad(t, path, ledger, [ledger.reported!], 'after the final save', true);
});

t.test('SIGKILL at random moments inside the save window', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'ck.safetensors');
  const ledger = new Ledger();
  const r = rng(9);
  const KILLS = 20;
  let inside = 0;
  for (let k = 0; k < KILLS; k++) {
    // The kill comes a random fraction (0 to 1.5) of the previous save's duration after a save
    // begins, so most kills land inside a save, at a different place each time.
    const fraction = 1.5 * r();
    let lastBegin = 0;
    let lastDuration = -1;
    let armed = false;
    const run = await runChild(path, { FIRST_SAVE: String(ledger.nextSave) }, (words, kill) => {
      const now = performance.now();
      if (words[0] === 'begin') {
        lastBegin = now;
        if (armed) setTimeout(kill, fraction * lastDuration);
      } else if (words[0] === 'saved') {
        lastDuration = now - lastBegin;
        armed = true;
      }
    });
    t.equal(run.signal, 'SIGKILL', `kill ${k}: killed`);
    const tail = run.lines[run.lines.length - 1]?.[0];
    if (tail !== 'saved') inside++;
    ledger.take(run);
    await checkLoad(
      t,
      path,
      ledger,
      [ledger.committed!, ...ledger.begunAfter],
      `random kill ${k} (${(fraction * 100).toFixed(0)}% into a save)`,
      k % 5 === 4,
    );
    t.ok(staleFiles(dir).length <= 2, `random kill ${k}: no temporary files accumulate (${staleFiles(dir).join(', ') || 'none'})`);
  }
  t.comment(`${inside} of ${KILLS} random kills landed inside a save (between its begin and its return)`);
  t.ok(inside >= 1, `${inside} of ${KILLS} random kills landed inside a save`);
  ledger.take(await runChild(path, { FIRST_SAVE: String(ledger.nextSave), SAVES: '1' }));
  t.same(readdirSync(dir).sort(), ['ck.optim.safetensors', 'ck.safetensors'], 'after the next save only the pair is left');
});

t.test('loading while another process saves in a loop always gets a whole pair', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'ck.safetensors');
  const ledger = new Ledger();
  let loads = 0;
  const failures: string[] = [];
  let firstSaved: () => void;
  const ready = new Promise<void>((r) => (firstSaved = r));
  let stop: () => void = () => {};
  const running = runChild(path, { FIRST_SAVE: '1' }, (words, kill) => {
    stop = kill;
    if (words[0] === 'begin') ledger.saves.set(words[1]!, { save: Number(words[2]), sum: Number(words[3]) });
    if (words[0] === 'saved') firstSaved();
  });
  await ready;
  const seen = new Set<string>();
  while (loads < 40) {
    const ck = await loadCheckpoint(path).catch((e: Error) => e);
    loads++;
    if (ck instanceof Error) failures.push(ck.message);
    else {
      seen.add(ck.checkpointId);
      const known = ledger.saves.get(ck.checkpointId);
      if (!known || ck.position.step !== known.save || ck.meta.save !== known.save) failures.push(`${ck.checkpointId}: an incoherent pair`);
    }
  }
  stop();
  const run = await running;
  t.same(failures, [], `${loads} loads during the saves, none failed or mixed two saves`);
  t.comment(`the loads saw ${seen.size} different saves out of ${run.lines.filter((l) => l[0] === 'saved').length} made meanwhile`);
  t.ok(seen.size >= 2, 'the loads overlapped several saves');
});
