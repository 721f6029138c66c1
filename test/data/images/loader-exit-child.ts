// Run by loader.test.ts in a child process: it must exit on its own once the loaders are idle,
// one closed after an abandoned epoch and one merely left idle with its workers started.
import { fileURLToPath } from 'node:url';
import { imageFolderLoader } from '../../../lib/data/images/index.js';

const list = fileURLToPath(new URL('../../../../shared/data/imagenet-samples/classes.tsv', import.meta.url));
const closed = await imageFolderLoader(list, { batchSize: 2, limit: 6, train: true, workers: 1 });
for await (const b of closed.epoch(0)) if (b.index === 0) break;
let a = 0;
for await (const _ of closed.epoch(1)) a++;
await closed.close();

const idle = await imageFolderLoader(list, { batchSize: 3, limit: 6, workers: 1 });
let b = 0;
for await (const _ of idle.epoch(0)) b++;
process.stdout.write(`batches ${a} ${b}\n`);
