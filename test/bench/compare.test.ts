// --compare: ratios against an earlier run's matching lines, on synthetic files.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareLine, lineKey, loadEarlier, parseJsonLines, type ComparableLine } from '../../lib/bench/compare.js';

const dir = mkdtempSync(join(tmpdir(), 'convkit-bench-compare-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const dev = { name: 'cpu:0', model: 'Test CPU', threads: 2, isa: 'avx2', cpus: 2 };
const s = (median: number) => ({ min: median * 0.9, median, max: median * 1.1 });
const result = (o: Partial<ComparableLine> & { ips: number }): ComparableLine => ({
  type: 'result',
  impl: 'convkit',
  model: 'lenet5',
  variant: 'modern',
  pass: 'train',
  batch: 64,
  device: dev,
  images_per_s: s(o.ips),
  ...o,
});

function write(name: string, lines: unknown[]): string {
  const f = join(dir, name);
  writeFileSync(f, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return f;
}

t.test('each line gets this run over the earlier run, on the matching key', async (t) => {
  const file = write('old.jsonl', [
    { type: 'start', device: dev },
    result({ ips: 1000 }),
    result({ ips: 400, batch: 256 }),
    result({ ips: 250, impl: 'pytorch', label: 'tuned' }),
    result({ ips: 100, impl: 'pytorch', label: 'default' }),
    { type: 'ceiling', M: 2048, N: 2048, K: 2048, device: dev, gflops: s(200) },
    '',
  ]);
  const earlier = loadEarlier(file);
  t.equal(earlier.size, 5, 'four results and the ceiling (the start line is not a figure)');
  t.same(compareLine(result({ ips: 1500 }), earlier, file), { file, ratio: 1.5, earlier: 1000 });
  t.same(compareLine(result({ ips: 200, batch: 256 }), earlier, file), { file, ratio: 0.5, earlier: 400 });
  t.same(
    compareLine(result({ ips: 300, impl: 'pytorch', label: 'tuned' }), earlier, file),
    { file, ratio: 1.2, earlier: 250 },
    'tuned matches tuned',
  );
  t.same(
    compareLine(result({ ips: 300, impl: 'pytorch', label: 'default' }), earlier, file),
    { file, ratio: 3, earlier: 100 },
    'default matches default',
  );
  t.same(
    compareLine({ type: 'ceiling', M: 2048, N: 2048, K: 2048, device: dev, gflops: s(150) }, earlier, file),
    { file, ratio: 0.75, earlier: 200 },
    'the ceiling compares GFLOP/s',
  );
  t.same(compareLine(result({ ips: 10, variant: 'classic' }), earlier, file), {
    file,
    ratio: null,
    reason: 'no matching line in the earlier run',
  });
  t.same(compareLine(result({ ips: 10, device: { ...dev, name: 'cpu:1' } }), earlier, file)?.ratio, null, 'another device does not match');
  t.equal(compareLine({ type: 'skip', impl: 'onnxruntime-node' }, earlier, file), undefined, 'non-figure lines get no comparison');
});

t.test('the key: implementation and label, form, pass, batch, device', async (t) => {
  t.not(lineKey(result({ ips: 1 })), lineKey(result({ ips: 1, pass: 'inference' })));
  t.not(lineKey(result({ ips: 1, impl: 'pytorch', label: 'tuned' })), lineKey(result({ ips: 1, impl: 'pytorch', label: 'default' })));
  t.equal(lineKey(result({ ips: 1 })), lineKey(result({ ips: 2 })), 'the figures are not part of it');
  t.equal(lineKey({ type: 'done' }), undefined);
});

t.test('a malformed earlier file is ND_FORMAT naming the file and line; a missing one is ND_ARG', async (t) => {
  const bad = write('bad.jsonl', [result({ ips: 1 }), '{"type": "result", oops']);
  t.throws(() => loadEarlier(bad), { code: 'ND_FORMAT', message: new RegExp(`bad\\.jsonl:2: not a JSON line`) });
  t.throws(() => loadEarlier(join(dir, 'nope.jsonl')), { code: 'ND_ARG', message: /--compare: cannot read .*nope\.jsonl/ });
  t.same(parseJsonLines('[1,2]\n"x"\n{"type":"a"}\n', 'f'), [{ type: 'a' }], 'JSON that is not an object is ignored');
});
