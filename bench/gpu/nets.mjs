// The two training steps the GPU checks run, shared by step-check.mjs and step-bench.mjs: the
// nets, their batch shapes and labels, and one step (forward, loss, backward, SGD update) whose
// inputs are made on the CPU from seeds and copied to the device, so every device sees the same.
import { Tensor, alexnet, lenet5, SGD } from '../../dist/index.js';

export const NETS = {
  lenet5: { make: (device) => lenet5({ seed: 0, device }), input: [1, 28, 28], classes: 10 },
  alexnet: { make: (device) => alexnet({ variant: 'paper', seed: 0, device }), input: [3, 227, 227], classes: 1000 },
};

/** A seeded batch on `device`: x ~ N(0, 1) and labels (i * 37) mod classes. */
export function batchOn(net, batch, device) {
  const { input, classes } = NETS[net];
  const host = Tensor.randn([batch, ...input], { seed: 1 });
  const x = host.to(device);
  host.dispose();
  const labels = Tensor.fromArray(
    Int32Array.from({ length: batch }, (_, i) => (i * 37) % classes),
    [batch],
    { dtype: 'int32', device },
  );
  return { x, labels };
}

/** The optimizer both checks use (the paper's hyper-parameters). */
export function sgdFor(model) {
  return new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
}
