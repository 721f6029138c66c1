// The peers: absent ones give a line saying why and the bench goes on; present ones (Debian's
// python3-torch, onnxruntime-node) answer the protocol. Where a peer is not installed here, the
// checks that need it are skipped, and the skip says so.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchMain } from '../../lib/bench/command.js';
import type { AbsentPeer, Contender } from '../../lib/bench/contender.js';
import { loadOrt, startOrtPeer } from '../../lib/bench/ort-contender.js';
import { REFERENCE_BLAS_WARNING, isReferenceBlas, startTorchPeer, torchEnv } from '../../lib/bench/torch-contender.js';

const dir = mkdtempSync(join(tmpdir(), 'convkit-bench-peers-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
process.env.CONVKIT_BENCH_CACHE = join(dir, 'cache'); // ONNX exports of this test only

const absent = (p: Contender | AbsentPeer): p is AbsentPeer => 'reason' in p;
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

t.test(
  'the tuned PyTorch environment unsets the OpenBLAS overrides and keeps freed memory; the default keeps the environment',
  async (t) => {
    const base = { OPENBLAS_CORETYPE: 'Haswell', OPENBLAS_L2_SIZE: '262144', PATH: '/bin', OMP_NUM_THREADS: '7' };
    const tuned = torchEnv('tuned', 2, base);
    t.equal(tuned.OPENBLAS_CORETYPE, undefined);
    t.equal(tuned.OPENBLAS_L2_SIZE, undefined);
    t.equal(tuned.MALLOC_MMAP_THRESHOLD_, '17179869184');
    t.equal(tuned.MALLOC_TRIM_THRESHOLD_, '17179869184');
    t.equal(tuned.PATH, '/bin');
    const plain = torchEnv('default', 2, base);
    t.equal(plain.OPENBLAS_CORETYPE, 'Haswell');
    t.equal(plain.OPENBLAS_L2_SIZE, '262144');
    t.equal(plain.MALLOC_MMAP_THRESHOLD_, undefined);
    for (const e of [tuned, plain]) t.same([e.OMP_NUM_THREADS, e.OPENBLAS_NUM_THREADS], ['2', '2'], "both with convkit's thread count");
    t.equal(base.OPENBLAS_CORETYPE, 'Haswell', "the caller's environment is not changed");
  },
);

t.test('the reference BLAS is told from OpenBLAS in the peer hello', async (t) => {
  t.ok(isReferenceBlas({ kind: 'reference', libraries: ['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3'] }));
  t.notOk(isReferenceBlas({ kind: 'openblas' }));
  t.notOk(isReferenceBlas(undefined));
  t.notOk(isReferenceBlas('reference'));
});

t.test('PyTorch absent: no interpreter, or one without torch', async (t) => {
  const none = await startTorchPeer('tuned', 1, join(dir, 'no-such-python'));
  t.ok(absent(none), 'absent');
  if (absent(none))
    t.match(none, { impl: 'pytorch', label: 'tuned', reason: /PyTorch peer did not start: .*no-such-python did not start/ });
  if (!existsSync('/usr/bin/python3')) {
    t.pass('peer checks', { skip: 'python without torch: /usr/bin/python3 is not installed here' });
    return;
  }
  // A torch that fails to import, found first on PYTHONPATH.
  const fake = join(dir, 'fake-torch');
  mkdirSync(fake);
  writeFileSync(join(fake, 'torch.py'), 'raise ImportError("no torch in this test")\n');
  const saved = process.env.PYTHONPATH;
  process.env.PYTHONPATH = fake;
  try {
    const p = await startTorchPeer('default', 1, '/usr/bin/python3');
    t.ok(absent(p), 'absent');
    if (absent(p)) t.match(p.reason, /PyTorch is not usable from \/usr\/bin\/python3: ImportError: no torch in this test/);
  } finally {
    if (saved === undefined) delete process.env.PYTHONPATH;
    else process.env.PYTHONPATH = saved;
  }
});

t.test('onnxruntime-node absent: a reason naming the install command', async (t) => {
  t.equal(loadOrt([join(dir, 'package.json')]), null);
  const p = startOrtPeer(1, [join(dir, 'package.json')]);
  t.ok(absent(p));
  if (absent(p)) t.match(p.reason, /onnxruntime-node is not installed \(npm install --save-dev --ignore-scripts onnxruntime-node/);
});

t.test('the bench with absent peers: a peer line each, the results still there, exit 0', async (t) => {
  const saved = process.env.CONVKIT_BENCH_PYTHON;
  process.env.CONVKIT_BENCH_PYTHON = join(dir, 'no-such-python');
  let out = '';
  const stdout = { isTTY: false, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
  const stderr = { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream;
  try {
    const code = await benchMain(
      [
        '--model',
        'lenet5:modern',
        '--pass',
        'inference',
        '--batch',
        '1',
        '--rounds',
        '1',
        '--warmup',
        '0',
        '--round-ms',
        '10',
        '--no-ceiling',
        '--peers',
        'torch',
      ],
      { stdout, stderr },
    );
    t.equal(code, 0);
  } finally {
    if (saved === undefined) delete process.env.CONVKIT_BENCH_PYTHON;
    else process.env.CONVKIT_BENCH_PYTHON = saved;
  }
  const lines = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Json);
  const peers = lines.filter((l) => l.type === 'peer');
  t.same(
    peers.map((l) => [l.impl, l.label, l.available]),
    [
      ['pytorch', 'tuned', false],
      ['pytorch', 'default', false],
    ],
  );
  for (const l of peers) t.match(l.reason, /did not start/);
  const res = lines.filter((l) => l.type === 'result');
  t.same(
    res.map((l) => l.impl),
    ['convkit'],
  );
  t.equal(res[0].vs, undefined, 'no ratio without a peer');
});

t.test('PyTorch present: it runs a case, refuses one it has no twin of, and survives', async (t) => {
  const p = await startTorchPeer('tuned', 1);
  if (absent(p)) {
    t.pass('peer checks', { skip: `PyTorch peer checks: ${p.reason}` });
    return;
  }
  try {
    t.match(p, { impl: 'pytorch', label: 'tuned' });
    t.match(p.version, /^\d+\.\d+/);
    t.match(
      p.setup,
      { threads: 1, seen: { OPENBLAS_CORETYPE: null, MALLOC_MMAP_THRESHOLD_: '17179869184' } },
      'the process saw the tuned environment',
    );
    // Which BLAS torch loaded, and a warning on its lines when it is the reference one.
    const blas = (p.setup as { blas?: { kind?: string; libraries?: string[] } }).blas;
    t.match(blas?.kind, /^(openblas|reference|other|none|unknown)$/, `the peer names its BLAS: ${JSON.stringify(blas)}`);
    t.equal(
      (p.setup as { warning?: string }).warning === REFERENCE_BLAS_WARNING,
      blas?.kind === 'reference',
      'warned exactly when reference',
    );
    const no = await p.prepare({ model: 'lenet5', variant: 'classic', pass: 'train', batch: 4 });
    t.match(no, /no torch\.nn twin of lenet5 classic/);
    for (const pass of ['train', 'inference'] as const) {
      const r = await p.prepare({ model: 'lenet5', variant: 'modern', pass, batch: 4 });
      t.not(typeof r, 'string', `${pass}: prepared`);
      if (typeof r !== 'string') t.ok((await r.run(2)) > 0, `${pass}: two batches took some seconds`);
      await p.release();
    }
  } finally {
    await p.close();
  }
});

t.test('onnxruntime-node present: inference only, on the exported twin', async (t) => {
  const p = startOrtPeer(1);
  if (absent(p)) {
    t.pass('peer checks', { skip: `onnxruntime-node peer checks: ${p.reason}` });
    return;
  }
  try {
    t.match(await p.prepare({ model: 'lenet5', variant: 'modern', pass: 'train', batch: 2 }), /runs inference only/);
    const r = await p.prepare({ model: 'lenet5', variant: 'modern', pass: 'inference', batch: 2 });
    if (typeof r === 'string') {
      t.fail(`convkit's own ONNX export of lenet5 modern should serve the peer: ${r}`);
      return;
    }
    t.ok(existsSync(join(dir, 'cache', 'lenet5-modern.convkit.onnx')), 'the ONNX file was written to the cache');
    t.ok((await r.run(3)) > 0, 'three batches took some seconds');
    // Preparing another form releases the first session (one at a time), so it comes last.
    const classic = await p.prepare({ model: 'lenet5', variant: 'classic', pass: 'inference', batch: 2 });
    t.type(classic, 'object', 'lenet5 classic has an ONNX peer too (convkit exports it)');
  } finally {
    await p.close();
  }
});
