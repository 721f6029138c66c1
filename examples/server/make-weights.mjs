// Writes seeded (untrained) weights files for the example server:
//   node examples/server/make-weights.mjs <dir> [lenet5] [alexnet] [alexnet-small]
// alexnet is the paper's form (about 240 MB); alexnet-small has fc6/fc7 of width 256 and 10
// classes, for quick tests. A trained checkpoint from `convkit train` serves the same way.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { alexnet, lenet5, saveTrainingCheckpoint } from 'convkit';

const [dir = '.', ...which] = process.argv.slice(2);
mkdirSync(dir, { recursive: true });
const build = {
  lenet5: () => lenet5({ seed: 1 }),
  alexnet: () => alexnet({ seed: 1, dropout: 0 }),
  'alexnet-small': () => alexnet({ seed: 1, dropout: 0, fcWidth: 256, numClasses: 10 }),
};
for (const name of which.length ? which : ['lenet5', 'alexnet']) {
  if (!build[name]) throw new Error(`unknown model '${name}' (${Object.keys(build).join(', ')})`);
  const model = build[name]();
  const path = join(dir, `${name}.safetensors`);
  await saveTrainingCheckpoint(path, model, null, { epoch: 0, batch: 0, step: 0 });
  model.dispose();
  console.log(path);
}
