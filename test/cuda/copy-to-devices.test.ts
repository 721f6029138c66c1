// tensor.to(device) across a CPU stream and a GPU, and between GPUs, through the device contract
// (native/cuda/device_cuda.cc): host bytes staged in pinned memory in the source's stream order,
// the destination ordered after them by an event, the JS thread never waiting. Without a GPU
// each case is an explicit skip "compiled, not run".
import t from 'tap';
import { Tensor, backends, device, ops } from '../../lib/index.js';
import { native } from '../../lib/native.js';

const cuda = backends().find((b) => b.name === 'cuda')!;
const gpus = cuda.available ? ((cuda.details?.devices as Array<{ index: number }>) ?? []) : [];
const noGpu = `CUDA unavailable (${cuda.reason ?? 'no device'}): compiled, not run`;
const kLongMs = 300;

t.test('cpu:0 -> cuda:0 after the writes queued on cpu:0, and back', { skip: gpus.length ? false : noGpu }, async (t) => {
  const cpu0 = device('cpu:0');
  const gpu = device('cuda:0');
  const x = Tensor.zeros([6], { device: cpu0 });
  native.debugSleep(cpu0.stream, kLongMs);
  native.fill(cpu0.stream, x.handle(), 6, -3);
  const g = x.to(gpu);
  t.ok(cpu0.pending() > 0, 'to() returned while cpu:0 was still busy');
  x.dispose();
  const five = Tensor.full([6], 5, { device: gpu });
  const sum = ops.add(g, five);
  const r = ops.relu(sum);
  t.same(Array.from(await r.data()), [2, 2, 2, 2, 2, 2], 'ops on cuda:0 see the copy of the fill');
  const back = r.to('cpu:1');
  const doubled = ops.add(back, back);
  t.same(Array.from(await doubled.data()), [4, 4, 4, 4, 4, 4], 'cuda:0 -> cpu:1, then an op on cpu:1');
  for (const v of [g, five, sum, r, back, doubled]) v.dispose();
});

t.test('cuda:0 -> cuda:1 by a peer copy', { skip: gpus.length >= 2 ? false : `${gpus.length} GPU(s): needs two` }, async (t) => {
  const a = Tensor.fromArray([1, -2, 3], [3], { device: 'cuda:0' });
  const b = a.to('cuda:1');
  a.dispose();
  const r = ops.relu(b);
  t.same(Array.from(await r.data()), [1, 0, 3], 'the copy on cuda:1, then relu there');
  b.dispose();
  r.dispose();
});
