// Run by cuda-addon.test.ts in a child process, with CONVKIT_ADDON set to the CUDA build or with
// CONVKIT_NO_CUDA set: reports what device('cuda:0') and a native op on cuda:0's stream do, and
// checks that CPU ops, to() between cpu streams and capture are unaffected.
import { Tensor, device, ops } from '../../lib/index.js';
import { native } from '../../lib/native.js';

function attempt(fn: () => unknown): { ok: true } | { ok: false; code?: string; message: string } {
  try {
    fn();
    return { ok: true };
  } catch (e) {
    return { ok: false, code: (e as { code?: string }).code, message: (e as Error).message };
  }
}

const x = Tensor.fromArray([1, -2, 3, -4], [4]);
const moved = x.to('cpu:1');
const relu = ops.relu(moved);
const { ops: plan, result } = ops.capture(device('cpu'), () => ops.relu(x));
plan.replay();
const out = {
  build: native.build,
  device: attempt(() => device('cuda:0')),
  deviceFar: attempt(() => device('cuda:63')),
  // A native op on cuda:0's stream id (256), bypassing the JS checks.
  nativeFill: attempt(() => native.fill(256, x.handle(), 4, 0)),
  nativeAlloc: attempt(() => native.alloc(256, 16)),
  relu: Array.from(await relu.data()),
  moved: { device: moved.device.name, values: Array.from(await moved.data()) },
  captured: Array.from(await result.data()),
};
for (const t of [x, moved, relu, result]) t.dispose();
plan.dispose();
process.stdout.write(JSON.stringify(out) + '\n');
