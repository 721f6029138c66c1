// Issue 9, finding 6: 1,000 concurrent inferences must never stall the event loop. The CPU
// stream's back-pressure used to block the JS thread after 1,024 queued ops (seconds of stall);
// now ops always queue (bounded by ops and bytes, ND_BUSY past the bounds) and the waits are
// promises. event-loop-child.mjs fires 1,000 requests per path (predict(), a compiled Predictor,
// predictProbs + data()) over 8 distinct inputs, checks every answer against the one computed
// alone, and reports perf_hooks.monitorEventLoopDelay's maximum. It runs against dist/ in a
// plain Node process (see its header for why).
//
// The bound is 100 ms of delay added by convkit. On a loaded shared machine the OS scheduler
// alone delays an idle loop by tens of ms, so that noise, measured on the same loop just before
// and after each storm (the larger), is added to the bound and printed; on a quiet machine it is ~1 ms. A
// blocked JS thread (the old back-pressure) stalls for seconds either way.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const MAX_DELAY_MS = 100;

t.test('1,000 concurrent inferences keep the event loop responsive', async (t) => {
  if (!existsSync(join(root, 'dist', 'index.js'))) {
    t.fail('dist/ is missing: run `npm run build` (npm ci does it)');
    return;
  }
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  // One JSON line per path from the child, and a 'leftover' line with the tensors left alive.
  type Line = {
    name: string;
    maxDelayMs: number;
    noiseMs: number;
    wrong: number;
    requests: number;
    wallMs: number;
    peakInFlight: number;
    peakQueuedOps: number;
    tensors?: number;
  };
  const runChild = (): Line[] => {
    const r = spawnSync(process.execPath, [join(here, 'event-loop-child.mjs')], { cwd: root, env, encoding: 'utf8', timeout: 240_000 });
    t.equal(r.status, 0, `child exit status (signal ${r.signal}; stderr: ${r.stderr.slice(-800)})`);
    return r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  };
  const over = (p: Line): boolean => !(p.maxDelayMs < MAX_DELAY_MS + p.noiseMs);
  let lines = runChild();
  // A loaded machine also slows garbage collection and starves threads in ways an idle loop's
  // noise does not show: a path over the bound gets one more run (printed), while a blocked JS
  // thread stalls for seconds in every run. Correctness is checked on every run.
  const first = lines.filter((l) => l.name !== 'leftover');
  for (const p of first) t.equal(p.wrong, 0, `${p.name} (first run): every answer equals the one computed alone`);
  if (first.some(over)) {
    t.comment(
      `over the bound in the first run: ${first
        .filter(over)
        .map((p) => `${p.name} ${p.maxDelayMs.toFixed(1)} ms`)
        .join(', ')}; running again`,
    );
    lines = runChild();
  }
  const paths = lines.filter((l) => l.name !== 'leftover');
  t.equal(paths.length, 3, 'three paths measured');
  for (const p of paths) {
    t.equal(p.requests, 1000, `${p.name}: 1000 answers`);
    t.equal(p.wrong, 0, `${p.name}: every answer equals the one computed alone`);
    t.ok(
      !over(p),
      `${p.name}: max event-loop delay ${p.maxDelayMs.toFixed(1)} ms < ${MAX_DELAY_MS} ms + scheduling noise ${p.noiseMs.toFixed(1)} ms ` +
        `(${p.wallMs.toFixed(0)} ms, up to ${p.peakInFlight} in flight, up to ${p.peakQueuedOps} ops queued)`,
    );
    t.ok(p.peakInFlight >= 20, `${p.name}: requests overlapped (${p.peakInFlight} in flight at once)`);
  }
  // How deep the queue gets depends on how fast the executor drains it (on a 2-core EPYC a
  // compiled LeNet-5 storm peaked at 994 ops): queue-bounds.test.ts shows deterministically that
  // more than the old 1,024-op back-pressure queue without waiting; here it is only printed.
  const deepest = Math.max(...paths.map((p) => p.peakQueuedOps));
  t.comment(`deepest queue in these storms: ${deepest} ops (the old back-pressure blocked the JS thread at 1,024)`);
  t.same(
    lines.find((l) => l.name === 'leftover'),
    { name: 'leftover', tensors: 0 },
    'no request left a tensor behind',
  );
});
