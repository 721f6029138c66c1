import t from 'tap';
import { lenet5 } from '../../lib/models/index.js';

t.test('classic LeNet-5 summary matches the 1998 table row by row', async (t) => {
  const m = lenet5({ variant: 'classic', seed: 1 });
  const s = m.summary();
  const rows = s.rows.map((r) => [r.layer, r.outputSize, r.receptiveField, r.neurons, r.parameters, r.connections]);
  t.same(rows, [
    ['c1', '28x28x6', 5, 4704, 156, 122304],
    ['s2', '14x14x6', 6, 1176, 12, 5880],
    ['c3', '10x10x16', 14, 1600, 1516, 151600],
    ['s4', '5x5x16', 16, 400, 32, 2000],
    ['c5', '120', 32, 120, 48120, 48120],
    ['f6', '84', 32, 84, 10164, 10164],
    ['output', '10', 32, 10, 0, 840],
  ]);
  t.equal(s.totals.parameters, 60000, '60,000 trainable parameters');
  t.equal(s.rows[0].inputSize, '32x32x1');
  t.equal(s.rows[0].kernelSize, '5x5x6');
  t.equal(s.rows[1].stride, 2);
  t.match(s.text, /c1 .*28x28x6/);
  t.match(s.text, /total .*60,000/);
  m.dispose();
});

t.test('modern LeNet-5 summary', async (t) => {
  const m = lenet5({ seed: 1 });
  const s = m.summary();
  t.same(
    s.rows.map((r) => r.layer),
    ['c1', 's2', 'c3', 's4', 'c5', 'f6', 'f7'],
  );
  t.equal(s.rows[0].outputSize, '28x28x6');
  t.equal(s.totals.parameters, 156 + 2416 + 48120 + 10164 + 850);
  const counted = m.parameters().reduce((a, p) => a + p.value.size, 0);
  t.equal(counted, s.totals.parameters, 'summary agrees with the parameter tensors');
  m.dispose();
});
