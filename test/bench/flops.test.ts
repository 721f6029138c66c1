// FLOPs per image, counted from the layers: the reference figures of both models and forms.
import t from 'tap';
import { flopsPerImage, layerFlops } from '../../lib/bench/flops.js';
import { alexnet, lenet5 } from '../../lib/index.js';

t.test('LeNet-5 modern: 416,520 multiply-adds forward; train drops c1 data gradient', async (t) => {
  const m = lenet5();
  t.same(
    layerFlops(m).map((l) => [l.layer, l.forward / 2]),
    [
      ['c1', 117_600],
      ['c3', 240_000],
      ['c5', 48_000],
      ['f6', 10_080],
      ['f7', 840],
    ],
  );
  t.equal(flopsPerImage(m, 'inference'), 833_040);
  t.equal(flopsPerImage(m, 'train'), 3 * 833_040 - 235_200);
  m.dispose();
});

t.test('LeNet-5 classic: C3 counts its 60 connected maps only, the RBF output has no weight gradient', async (t) => {
  const m = lenet5({ variant: 'classic' });
  const l = Object.fromEntries(layerFlops(m).map((x) => [x.layer, x]));
  t.equal(l.c3.forward, 2 * 60 * 25 * 100, 'C3: 60 of 96 map pairs, 5x5, 10x10 outputs');
  t.equal(l.output.forward, 2 * 840);
  t.equal(l.output.weights, false);
  t.equal(flopsPerImage(m, 'inference'), 653_040);
  t.equal(flopsPerImage(m, 'train'), 653_040 + (653_040 - 235_200) + (653_040 - 1_680));
  m.dispose();
});

t.test('AlexNet paper form: 1.45 GFLOP per image forward, 4.14 per training image', async (t) => {
  const m = alexnet({ variant: 'paper' });
  const inf = flopsPerImage(m, 'inference');
  const train = flopsPerImage(m, 'train');
  t.equal(Number((inf / 1e9).toFixed(2)), 1.45);
  t.equal(Number((train / 1e9).toFixed(2)), 4.14);
  t.equal(train, 3 * inf - layerFlops(m)[0].forward, '3x forward minus conv1 data gradient');
  m.dispose();
  const owt = alexnet({ variant: 'owt' });
  // torchvision's one-tower AlexNet at 224x224: about 0.71 G multiply-adds.
  t.equal(Number((flopsPerImage(owt, 'inference') / 2e9).toFixed(2)), 0.71);
  owt.dispose();
});
