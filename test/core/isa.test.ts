// The one CPU instruction-set switch (native/cpu/isa.h, lib/isa.ts): what it reports, what it
// refuses, and that it reaches every kernel family.
import t from 'tap';
import {
  ISA_LEVELS,
  Tensor,
  backends,
  cpuIsa,
  device,
  isa,
  isaFamilies,
  ops,
  setIsa,
  supportedIsas,
  type IsaLevel,
} from '../../lib/index.js';

t.test('the levels this CPU runs, and the one in force', async (t) => {
  const have = supportedIsas();
  t.equal(have[0], cpuIsa(), 'best first');
  t.equal(have[have.length - 1], 'portable', 'portable always runs');
  t.same(have, ISA_LEVELS.slice(ISA_LEVELS.indexOf(cpuIsa())), 'every level below the best');
  t.ok(have.includes(isa()), `in force: ${isa()}`);
});

t.test('setIsa switches every family at once, and back', async (t) => {
  await device('cpu').synchronize();
  const before = isa();
  t.teardown(() => setIsa(before));
  for (const level of supportedIsas()) {
    t.equal(setIsa(level), level, `setIsa('${level}') returns the level`);
    const f = isaFamilies();
    const vector = level === 'avx512' ? 'avx512' : 'portable';
    t.same(
      f,
      {
        gemm: level,
        convDirect: vector,
        im2col: vector,
        im2colPanels: vector,
        lrn: vector,
        maxPool: vector,
        linearBf16: vector,
        linearStream: level === 'avx512' ? 'avx512' : 'off',
      },
      `${level}: every family follows`,
    );
    t.equal(ops.gemmKernelName(), level, `${level}: the GEMM micro-kernel`);
    const cpu = backends().find((b) => b.name === 'cpu')!;
    t.same(
      { isa: cpu.details!.isa, families: cpu.details!.families, simd: cpu.details!.simd },
      { isa: level, families: f, simd: level },
      `${level}: backends() reports it`,
    );
  }
  t.equal(setIsa('auto'), cpuIsa(), "'auto' is the best this CPU runs");
  t.equal(ops.setGemmKernel('portable'), 'portable', 'setGemmKernel, the old name, switches the level');
  t.equal(isa(), 'portable');
  t.equal(isaFamilies().lrn, 'portable', 'for every family');
  setIsa(before);
});

t.test('setIsa refuses unknown names, missing levels and busy streams, changing nothing', async (t) => {
  await device('cpu').synchronize();
  const before = isa();
  t.throws(() => setIsa('sse9' as never), {
    code: 'ND_ARG',
    message: /setIsa: unknown ISA 'sse9' \(expected avx512, avx2, portable or auto\)/,
  });
  t.throws(() => setIsa(3 as never), { code: 'ND_ARG', message: /setIsa: 'name' must be a string/ });
  const missing = ISA_LEVELS.filter((l) => !supportedIsas().includes(l));
  if (missing.length) t.throws(() => setIsa(missing[0]), { code: 'ND_ARG', message: /this CPU cannot run/ });
  else t.pass('a level this CPU lacks', { skip: `this CPU runs every level (${ISA_LEVELS.join(', ')})` });
  t.equal(isa(), before, 'unchanged after refusals');

  // A slow op queued on cpu:5: switching now could run an op half on one path.
  const dev = device('cpu:5');
  const x = Tensor.zeros([4], { device: dev });
  await dev.synchronize();
  const native = (await import('../../lib/native.js')).native;
  native.debugSleep(dev.stream, 150);
  t.throws(() => setIsa('portable'), {
    code: 'ND_BUSY',
    message: /setIsa: cpu:5 has 1 op\(s\) queued or running; await its synchronize\(\)/,
  });
  t.equal(isa(), before, 'unchanged while busy');
  await dev.synchronize();
  t.equal(setIsa('portable'), 'portable', 'accepted once the stream is idle');
  setIsa(before);
  x.dispose();
});

t.test('every level gives the same answers: within float tolerance for sums, bit for bit for copies and max', async (t) => {
  // AlexNet-like layers in a row: conv (packed panels + GEMM), LRN, max pooling, and a small
  // stride-1 conv (the direct path). Each level must agree with float tolerance; the vector and
  // portable builds of the copy-only families (im2col, pooling) agree bit for bit.
  await device('cpu').synchronize();
  const before = isa();
  const x = Tensor.randn([2, 3, 23, 23], { seed: 11 });
  const w = Tensor.randn([8, 3, 5, 5], { seed: 12, std: 0.2 });
  const w2 = Tensor.randn([4, 8, 3, 3], { seed: 13, std: 0.2 });
  const results: Record<string, { conv: Float32Array; lrn: Float32Array; pool: Float32Array; argmax: Int32Array; small: Float32Array }> =
    {};
  for (const level of supportedIsas()) {
    await device('cpu').synchronize();
    setIsa(level);
    const y = ops.conv2d(x, w, { stride: 2 });
    const { y: l } = ops.lrn(y, { alphaConvention: 'literal', size: 5, alpha: 1e-2, beta: 0.75, k: 2 });
    const p = ops.maxPool2d(l, { kernelSize: 3, stride: 2 });
    const small = ops.conv2d(p.y, w2, { padding: 1 });
    results[level] = {
      conv: (await y.data()) as Float32Array,
      lrn: (await l.data()) as Float32Array,
      pool: (await p.y.data()) as Float32Array,
      argmax: (await p.argmax.data()) as Int32Array,
      small: (await small.data()) as Float32Array,
    };
    for (const u of [y, l, p.y, p.argmax, small]) u.dispose();
  }
  await device('cpu').synchronize();
  setIsa(before);
  const levels = Object.keys(results) as IsaLevel[];
  const close = (a: Float32Array, b: Float32Array) => a.every((v, i) => Math.abs(v - b[i]) <= 1e-4 + 1e-4 * Math.abs(b[i]));
  for (const level of levels.slice(1)) {
    const [a, b] = [results[level], results[levels[0]]];
    for (const k of ['conv', 'lrn', 'pool', 'small'] as const) t.ok(close(a[k], b[k]), `${level} vs ${levels[0]}: ${k} within 1e-4`);
  }
  // Max pooling and im2col only move values: on one input every level gives the same bits.
  const z = Tensor.randn([2, 4, 27, 27], { seed: 14 });
  const bits: string[] = [];
  for (const level of levels) {
    await device('cpu').synchronize();
    setIsa(level);
    const p = ops.maxPool2d(z, { kernelSize: 3, stride: 2 });
    const c = ops.im2col(z, { kernelSize: 3, stride: 2, padding: 1 });
    bits.push([p.y, p.argmax, c].map((u) => Buffer.from(u.dataSync().buffer).toString('base64')).join('|'));
    for (const u of [p.y, p.argmax, c]) u.dispose();
  }
  await device('cpu').synchronize();
  setIsa(before);
  for (let i = 1; i < levels.length; i++) t.equal(bits[i], bits[0], `${levels[i]} vs ${levels[0]}: max pooling and im2col bit for bit`);
  z.dispose();
  for (const u of [x, w, w2]) u.dispose();
});
