// Images through the example server: the body is read into a shared slot, a decode worker
// writes the float input over it, and the session lends it to the executor, which gathers it
// into the batch. Every answer must
// be the one the library gives for the same file (InferenceSession.runImage), for bodies that
// fit the slot and bodies that do not, with many requests in flight so that slots are reused.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { alexnet } from '../../lib/models/index.js';
import { InferenceSession } from '../../lib/serve/index.js';
import { saveTrainingCheckpoint } from '../../lib/train/checkpointing.js';
import { startServer } from '../helpers/serve-server.js';

const dir = mkdtempSync(join(os.tmpdir(), 'convkit-server-img-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const weights = join(dir, 'alexnet.safetensors');
const imagesDir = new URL('../../../shared/data/imagenet-samples/', import.meta.url).pathname;
const SLOT = 227 * 227 * 3 * 4; // a slot: room for AlexNet's float input (604 KiB), or a body as large
const files = readdirSync(imagesDir)
  .filter((f) => f.endsWith('.JPEG'))
  .map((f) => join(imagesDir, f));
// Both kinds of body: some that fit a slot, some larger (read into a fresh buffer).
const small = files.filter((f) => statSync(f).size <= SLOT).slice(0, 4);
const large = files.filter((f) => statSync(f).size > SLOT).slice(0, 1);

interface Answer {
  status: number;
  top5?: { class: number; probability: number }[];
}

t.test('served images answer as InferenceSession.runImage does, in or out of a slot', async (t) => {
  t.equal(small.length, 4, 'four sample JPEGs fit a slot');
  t.equal(large.length, 1, 'one does not (the largest sample, 707 KiB)');
  const model = alexnet({ seed: 4, fcWidth: 64, numClasses: 10, dropout: 0 });
  await saveTrainingCheckpoint(weights, model, null, { epoch: 0, batch: 0, step: 0 });
  // batchInvariant on both sides: a row does not depend on how requests were batched.
  const ref = await InferenceSession.create(model, { maxBatchSize: 8, batchInvariant: true });
  const want = new Map<string, number[]>();
  for (const f of [...small, ...large]) want.set(f, Array.from(await ref.runImage(readFileSync(f))));
  await ref.close();
  model.dispose();

  const srv = await startServer(['--model', `alexnet=${weights}`, '--max-batch', '8', '--batch-invariant']);
  t.teardown(() => srv.child.kill('SIGKILL'));
  const post = (f: string): Promise<Answer> =>
    fetch(srv.url + '/v1/models/alexnet/predict', {
      method: 'POST',
      headers: { 'content-type': 'image/jpeg' },
      body: readFileSync(f),
    }).then(async (r) => ({ status: r.status, ...((await r.json()) as object) }));
  // 3 rounds of every file at once: 15 requests in flight, slots released and taken again.
  const order = [0, 1, 2].flatMap(() => [...small, ...large]);
  const answers = await Promise.all(order.map(post));
  answers.forEach((a, i) => {
    const f = order[i]!;
    const probs = want.get(f)!;
    const top = probs
      .map((p, c) => ({ c, p }))
      .sort((x, y) => y.p - x.p || x.c - y.c)
      .slice(0, 5);
    t.equal(a.status, 200, `request ${i} answered`);
    t.same(
      a.top5?.map((e) => [e.class, e.probability]),
      top.map((e) => [e.c, e.p]),
      `request ${i} (${statSync(f).size > SLOT ? 'body past a slot' : 'body in a slot'}): the library's top-5 for that file`,
    );
  });
  const stats = (await (await fetch(srv.url + '/v1/stats')).json()) as {
    gc: object;
    mainThread: unknown;
    threadPriority: { failed: number; changed: number };
  };
  t.ok(stats.gc && typeof stats.gc === 'object', '/v1/stats reports GC by kind');
  t.equal(stats.threadPriority.failed, 0, 'and the thread priorities it set');
  t.ok(stats.threadPriority.changed >= 1, `the session's threads were lowered (${stats.threadPriority.changed})`);
});
