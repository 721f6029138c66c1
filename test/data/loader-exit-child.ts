// Run by loader.test.ts in a child process: it must exit on its own once the loaders are idle,
// one closed and one merely left idle.
import { DataLoader, InMemoryDataset } from '../../lib/data/index.js';

const ds = new InMemoryDataset({
  images: new Uint8Array(60 * 9),
  labels: new Array(60).fill(0),
  count: 60,
  channels: 1,
  height: 3,
  width: 3,
});
const closed = new DataLoader(ds, { batchSize: 5 });
let a = 0;
for await (const b of closed.epoch(0)) {
  a++;
  if (b.index === 2) break;
}
a = 0;
for await (const _ of closed.epoch(1)) a++;
await closed.close();

const idle = new DataLoader(ds, { batchSize: 25 });
let b = 0;
for await (const _ of idle.epoch(0)) b++;
process.stdout.write(`batches ${a} ${b}\n`);
