// Layer stacks the fusion tests build, and the unfused reference they compare against.
import type { Test } from 'tap';
import type { Tensor } from '../../lib/index.js';
import { Conv2d, LocalResponseNorm, MaxPool2d, ReLU, Sequential, type Layer } from '../../lib/layers/index.js';

/** Each layer's own forward() in turn, never fused (Sequential's reference); intermediates disposed. */
export function forwardEachLayer(layers: readonly Layer[], x: Tensor): Tensor {
  let cur = x;
  for (const l of layers) {
    const next = l.forward(cur);
    if (cur !== x) cur.dispose();
    cur = next;
  }
  return cur;
}

/** AlexNet's stage form: Conv2d (3x3, padding 1) -> ReLU -> LocalResponseNorm -> MaxPool2d (none with pool null). */
export function convReluLrnPool(o: {
  inChannels: number;
  outChannels: number;
  lrn: { alphaConvention: 'literal' | 'per-size'; alpha: number };
  pool: { kernelSize: number; stride?: number } | null;
}): Sequential {
  return new Sequential([
    new Conv2d({ inChannels: o.inChannels, outChannels: o.outChannels, kernelSize: 3, padding: 1, name: 'c', seed: 1 }),
    new ReLU('r'),
    new LocalResponseNorm({ ...o.lrn, name: 'norm' }),
    ...(o.pool ? [new MaxPool2d(o.pool)] : []),
  ]);
}

const bits = async (a: Tensor) => Buffer.from((await a.data()).buffer);

/**
 * The unfused chain of make()'s layers (each layer's own forward, then each backward, last first)
 * against a fused run of the same net: forward output, input gradient and every parameter's
 * gradient equal bit for bit. inspect sees the chain's per-layer outputs before they are freed.
 */
export async function matchesUnfusedChain(
  t: Test,
  make: () => Sequential,
  fused: { net: Sequential; x: Tensor; dy: Tensor; y: Tensor; dx: Tensor },
  inspect?: (outs: Tensor[]) => Promise<void>,
): Promise<void> {
  const ref = make();
  ref.layers[0].needInputGrad = true;
  let cur = fused.x;
  const outs: Tensor[] = [];
  for (const l of ref.layers) outs.push((cur = l.forward(cur)));
  let g: Tensor = fused.dy;
  const grads: Tensor[] = [];
  for (let i = ref.layers.length - 1; i >= 0; i--) grads.push((g = ref.layers[i].backward(g)!));
  t.same(await bits(fused.y), await bits(cur), 'forward output');
  t.same(await bits(fused.dx), await bits(g), 'input gradient');
  const [pa, pb] = [fused.net.parameters(), ref.parameters()];
  for (const [i, p] of pa.entries()) t.same(await bits(p.grad!), await bits(pb[i].grad!), `gradient of ${p.name}`);
  if (inspect) await inspect(outs);
  for (const u of [...grads, ...outs]) u.dispose();
  ref.dispose();
}
