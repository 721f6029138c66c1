// The example server under a few hundred malformed requests: every one gets a 4xx with a JSON
// error (never a 5xx, never a hang), and the server still answers good requests after.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { lenet5 } from '../../lib/models/index.js';
import { saveTrainingCheckpoint } from '../../lib/train/checkpointing.js';
import { startServer, type Running } from '../helpers/serve-server.js';

const dir = mkdtempSync(join(os.tmpdir(), 'convkit-server-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const jpeg = readFileSync(new URL('../../../shared/data/imagenet-samples/n01440764_tench.JPEG', import.meta.url));
let srv: Running;

t.before(async () => {
  const m = lenet5({ seed: 1 });
  await saveTrainingCheckpoint(join(dir, 'lenet5.safetensors'), m, null, { epoch: 0, batch: 0, step: 0 });
  m.dispose();
  srv = await startServer(['--model', `lenet5=${join(dir, 'lenet5.safetensors')}`, '--max-body', String(1 << 20)]);
});
t.teardown(() => srv?.child.kill('SIGKILL'));

// A seeded stream, so a failure names a reproducible case.
let seed = 12345;
const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
const bytes = (n: number) => Uint8Array.from({ length: n }, () => (rand() * 256) | 0);

interface Case {
  what: string;
  type?: string;
  body: Uint8Array | string;
  want: number;
}

function cases(): Case[] {
  const out: Case[] = [];
  const good = Array(784).fill(0.5);
  for (let i = 0; i < 100; i++)
    out.push({ what: `random bytes as image/jpeg #${i}`, type: 'image/jpeg', body: bytes(1 + ((rand() * 5000) | 0)), want: 400 });
  for (let i = 0; i < 40; i++)
    out.push({ what: `truncated JPEG #${i}`, type: 'image/jpeg', body: jpeg.subarray(0, 20 + ((rand() * 2000) | 0)), want: 400 });
  for (let i = 0; i < 20; i++) {
    const b = new Uint8Array(jpeg.subarray(0, 4000));
    for (let k = 0; k < 50; k++) b[200 + ((rand() * 3700) | 0)] = (rand() * 256) | 0;
    out.push({ what: `JPEG header with a corrupt stream #${i}`, type: 'image/jpeg', body: b, want: 400 });
  }
  for (let i = 0; i < 20; i++)
    out.push({
      what: `PNG signature then garbage #${i}`,
      type: 'image/png',
      body: new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10, ...bytes(100)]),
      want: 400,
    });
  for (let i = 0; i < 30; i++)
    out.push({ what: `not JSON #${i}`, type: 'application/json', body: `{"input": [${'1,'.repeat(i)}`, want: 400 });
  for (let i = 0; i < 30; i++)
    out.push({
      what: `wrong shape ${i * 25 + 1}`,
      type: 'application/json',
      body: JSON.stringify({ input: Array(i * 25 + 1).fill(0) }),
      want: 400,
    });
  out.push({ what: 'no input field', type: 'application/json', body: '{"x": 1}', want: 400 });
  out.push({ what: 'JSON null', type: 'application/json', body: 'null', want: 400 });
  out.push({
    what: 'strings in the tensor',
    type: 'application/json',
    body: JSON.stringify({ input: good.map((v, i) => (i === 7 ? 'a' : v)) }),
    want: 400,
  });
  out.push({ what: 'invalid UTF-8', type: 'application/json', body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), want: 400 });
  out.push({ what: 'empty body', type: 'image/jpeg', body: '', want: 400 });
  for (let i = 0; i < 30; i++)
    out.push({
      what: `content type #${i}`,
      type: ['text/plain', 'image/gif', 'application/octet-stream', 'multipart/form-data', ''][i % 5],
      body: bytes(10),
      want: 415,
    });
  for (let i = 0; i < 15; i++)
    out.push({
      what: `oversized body #${i}`,
      type: i % 2 ? 'image/jpeg' : 'application/json',
      body: bytes((1 << 20) + 1 + i * 1000),
      want: 413,
    });
  for (let i = 0; i < 10; i++) out.push({ what: `unknown model #${i}`, type: 'image/jpeg', body: jpeg, want: 404 });
  return out;
}

t.test('a few hundred malformed requests all get 4xx, and the server keeps answering', async (t) => {
  const all = cases();
  t.ok(all.length >= 300, `${all.length} malformed requests`);
  const wrong: string[] = [];
  for (let i = 0; i < all.length; i += 25) {
    await Promise.all(
      all.slice(i, i + 25).map(async (c) => {
        const path = c.what.startsWith('unknown model') ? '/v1/models/nope/predict' : '/v1/models/lenet5/predict';
        const headers: Record<string, string> = c.type ? { 'content-type': c.type } : {};
        try {
          const r = await fetch(srv.url + path, { method: 'POST', headers, body: c.body, signal: AbortSignal.timeout(30_000) });
          const body = (await r.json()) as { error?: string };
          if (r.status !== c.want || typeof body.error !== 'string') wrong.push(`${c.what}: ${r.status} ${JSON.stringify(body)}`);
        } catch (e) {
          // A 413 may close the connection before the client finished sending: that is an answer too.
          if (c.want !== 413) wrong.push(`${c.what}: ${(e as Error).message}`);
        }
      }),
    );
  }
  t.same(wrong, [], 'every malformed request got its expected 4xx and a JSON error');
  const ok = await fetch(srv.url + '/v1/models/lenet5/predict', { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: jpeg });
  t.equal(ok.status, 200, 'a good JPEG is still answered');
  const j = (await ok.json()) as { top5: { class: number; probability: number }[] };
  t.equal(j.top5.length, 5, 'with five classes');
  t.ok(j.top5[0]!.probability >= j.top5[4]!.probability, 'in order');
  const health = await fetch(srv.url + '/healthz');
  t.equal(health.status, 200, '/healthz answers 200');
  const metrics = await (await fetch(srv.url + '/metrics')).text();
  t.match(metrics, /convkit_requests_total\{model="lenet5",status="400"\} \d+/, '/metrics counts the 400s');
  t.match(metrics, /nodejs_eventloop_lag_p99_seconds/, '/metrics has the event-loop lag');
  t.equal(srv.child.exitCode, null, 'the server process is alive');
  t.notMatch(srv.stderr.join(''), /unhandled|500 on/, 'no 500s or unhandled errors logged');
});
