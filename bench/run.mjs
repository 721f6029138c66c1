// Runs benchmark scripts and passes their JSON lines through: `node bench/run.mjs [group]`,
// where group is a folder under bench/ (kernels, models); all groups when omitted.
import { readdirSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const groups = process.argv[2] ? [process.argv[2]] : ['kernels', 'models'];
let failed = 0;
for (const g of groups) {
  const dir = join(here, g);
  if (!existsSync(dir)) continue;
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.mjs')) continue;
    const r = spawnSync(process.execPath, [join(dir, f)], { stdio: 'inherit' });
    if (r.status !== 0) {
      failed++;
      process.stderr.write(`bench/${g}/${f} exited with ${r.status}\n`);
    }
  }
}
process.exit(failed ? 1 : 0);
