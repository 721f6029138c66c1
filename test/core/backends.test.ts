import t from 'tap';
import { backends, ops } from '../../lib/index.js';

t.test('backends() describes the CPU backend', async (t) => {
  const cpu = backends().find((b) => b.name === 'cpu')!;
  t.ok(cpu.available);
  t.ok((cpu.details!.threads as number) >= 1);
  t.equal(cpu.details!.simd, ops.gemmKernelName(), 'the SIMD level is the GEMM kernel in use');
  t.match(String(cpu.details!.simd), /^(avx512|avx2|portable)$/);
  const cuda = backends().find((b) => b.name === 'cuda')!;
  if (cuda.available) {
    // The CUDA build on a GPU machine: it says which devices.
    t.ok((cuda.details!.deviceCount as number) >= 1, 'counts its devices');
  } else {
    t.ok(cuda.reason && cuda.reason.length > 10, `says why: ${cuda.reason}`);
  }
});
