// Run by cuda-addon.test.ts in a child process with CONVKIT_ADDON set to the CUDA build: loads the
// library through lib/native.ts, reports backends() and runs CPU ops through the CUDA addon.
import { Tensor, backends, ops } from '../../lib/index.js';
import { native } from '../../lib/native.js';

const a = Tensor.fromArray([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
const w = Tensor.fromArray([1, 0, 0, -1], [1, 1, 2, 2]);
const y = ops.conv2d(a, w);
const s = ops.add(a, a);
const out = {
  build: native.build,
  backends: backends(),
  conv: Array.from(await y.data()),
  add: Array.from(await s.data()),
};
for (const t of [a, w, y, s]) t.dispose();
process.stdout.write(JSON.stringify(out) + '\n');
