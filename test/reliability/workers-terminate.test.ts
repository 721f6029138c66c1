// Issue 9, finding 1: terminating worker threads with ops in flight must not affect the main
// thread or the process. terminate-child.mjs runs 4 workers x several rounds in a child
// process (against dist/), so an abort is observed as the child's signal instead of killing
// the test runner; the child then computes on the main thread and exits 0.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

t.test('terminating 4 workers mid-op, over several rounds, leaves the process and main thread intact', async (t) => {
  if (!existsSync(join(root, 'dist', 'index.js'))) {
    t.fail('dist/ is missing: run `npm run build` (npm ci does it)');
    return;
  }
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  // Two child runs: the abort was a race (13 of 13 runs before the fix, but each run is a few rounds).
  for (let run = 0; run < 2; run++) {
    const r = spawnSync(process.execPath, [join(here, 'terminate-child.mjs'), '6'], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
    t.equal(r.signal, null, `run ${run}: no signal (stderr: ${r.stderr.slice(-600)})`);
    t.equal(r.status, 0, `run ${run}: exit code 0`);
    t.match(r.stdout, /rounds 6 ok \[2,0,6,0\]/, `run ${run}: the main thread computed the right answer afterwards`);
  }
});
