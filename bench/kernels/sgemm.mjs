// Our SGEMM against OpenBLAS's cblas_sgemm on 2048^3 and on the GEMMs of AlexNet's conv layers at
// batch 32 (C[M,N] = W[M,K]·cols[K,N], as conv forward runs them), same thread count for both.
// Usage: node bench/kernels/sgemm.mjs (build dist/ first: npx tsc -p tsconfig.build.json).
// OpenBLAS is a benchmark-only dependency: without g++ or libopenblas-dev a line says so.
process.env.CONVKIT_NUM_THREADS ??= '2';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const { Tensor, device, ops } = await import('../../dist/index.js');
const { native } = await import('../../dist/native.js');
const { deviceName, emit, timeIt } = await import('../lib.mjs');

const TARGET = 0.9; // our time may be at most 1/0.9 of OpenBLAS's on every conv shape
const threads = native.threads();
const dev = device('cpu');
const devName = deviceName('cpu:0', threads);
const kernel = ops.gemmKernelName();
const here = dirname(fileURLToPath(import.meta.url));

const SHAPES = [
  ['square2048', 2048, 2048, 2048],
  ['conv1', 96, 96800, 363],
  ['conv2', 256, 23328, 2400],
  ['conv3', 384, 5408, 2304],
  ['conv4', 384, 5408, 3456],
  ['conv5', 256, 5408, 3456],
].map(([shape, M, N, K]) => ({ shape, M, N, K }));

const gflops = (s, ms) => (2 * s.M * s.N * s.K) / (ms * 1e6);

/** Compiles the peer; returns the binary's path, or the reason it cannot run. */
function buildPeer() {
  const dir = mkdtempSync(join(tmpdir(), 'convkit-openblas-'));
  const bin = join(dir, 'openblas_sgemm');
  try {
    execFileSync('g++', ['-O2', '-o', bin, join(here, 'openblas_sgemm.cc'), '-lopenblas'], { stdio: 'pipe' });
    return { bin, dir };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const msg = (err.stderr?.toString() || err.message).split('\n').find((l) => l.trim()) ?? String(err);
    return { skip: `could not build the OpenBLAS peer (g++ ... -lopenblas; install libopenblas-dev): ${msg.trim()}` };
  }
}

/**
 * OpenBLAS as it configures itself: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed (this
 * environment may set them to slow it down), OPENBLAS_NUM_THREADS = our thread count, for this
 * command only. `coretype` forces a core where auto-detection falls back to a generic one.
 */
function runPeer(bin, s, coretype) {
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads) };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  if (coretype) env.OPENBLAS_CORETYPE = coretype;
  const out = execFileSync(bin, [`${s.M},${s.N},${s.K}`], { env })
    .toString()
    .trim();
  return JSON.parse(out);
}

const cpuFlags = (() => {
  try {
    return /flags\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? [];
  } catch {
    return [];
  }
})();
// Cores of OpenBLAS's DYNAMIC_ARCH list that use AVX-512; on an AVX-512 CPU that OpenBLAS does not
// recognise (0.3.21 and Sapphire/Emerald Rapids) it falls back to Prescott, an SSE3 kernel.
const AVX512_CORES = new Set(['SkylakeX', 'Cooperlake', 'SapphireRapids']);

async function timeOurs(s) {
  const a = Tensor.uniform([s.M, s.K], { seed: 1, low: -1, high: 1 });
  const b = Tensor.uniform([s.K, s.N], { seed: 2, low: -1, high: 1 });
  const c = Tensor.zeros([s.M, s.N]);
  await dev.synchronize();
  const t = await timeIt(async () => {
    ops.gemm(a, b, { c });
    await dev.synchronize();
  });
  for (const x of [a, b, c]) x.dispose();
  return t;
}

const peer = buildPeer();
if (peer.skip) emit({ bench: 'sgemm', impl: 'openblas', device: devName, skipped: peer.skip });

for (const s of SHAPES) {
  // The peer first, then ours, shape by shape: both see the same machine load.
  const peers = [];
  if (peer.bin) {
    const auto = runPeer(peer.bin, s);
    peers.push({ ...auto, coretype: 'auto' });
    if (cpuFlags.includes('avx512f') && !AVX512_CORES.has(auto.corename))
      peers.push({ ...runPeer(peer.bin, s, 'SkylakeX'), coretype: 'SkylakeX' });
  }
  const ours = await timeOurs(s);
  // The ratio is against the fastest OpenBLAS configuration measured.
  const best = peers.length ? Math.min(...peers.map((p) => p.ms)) : undefined;
  for (const p of peers)
    emit({
      bench: 'sgemm',
      impl: 'openblas',
      device: devName,
      kernel: p.corename,
      coretype: p.coretype,
      threads: p.threads,
      shape: s.shape,
      M: s.M,
      N: s.N,
      K: s.K,
      ms: +p.ms.toFixed(3),
      gflops: +gflops(s, p.ms).toFixed(1),
      ...(p.coretype === 'auto' && peers.length > 1
        ? { note: `auto-detection picked ${p.corename}, not an AVX-512 core: also timed with OPENBLAS_CORETYPE=SkylakeX` }
        : {}),
    });
  const ratio = best === undefined ? null : +(best / ours.ms).toFixed(3);
  emit({
    bench: 'sgemm',
    impl: 'convkit',
    device: devName,
    kernel,
    threads,
    shape: s.shape,
    M: s.M,
    N: s.N,
    K: s.K,
    ms: +ours.ms.toFixed(3),
    gflops: +gflops(s, ours.ms).toFixed(1),
    ratio_vs_openblas: ratio,
    ...(s.shape.startsWith('conv') && ratio !== null ? { target: TARGET, meets_target: ratio >= TARGET } : {}),
  });
}
if (peer.dir) rmSync(peer.dir, { recursive: true, force: true });
