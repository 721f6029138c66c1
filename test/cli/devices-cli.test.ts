// convkit train lenet5 --devices cpu:1,cpu:2: data-parallel training from the CLI gives the same
// weights as one device (same seed, same batches), and bad lists are usage errors.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { restoreModel } from '../../lib/index.js';
import { existsSync } from 'node:fs';
import { stateGap } from '../helpers/compare.js';
import { IMAGENET, MNIST, cli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'convkit-devices-cli-'));
const common = [
  'train',
  'lenet5',
  '--data',
  MNIST,
  '--limit',
  '256',
  '--val-split',
  '0',
  '--epochs',
  '1',
  '--prefetch',
  '0',
  '--batch',
  '32',
];

t.test('--devices cpu:1,cpu:2 trains the same weights as --device cpu:1', async (t) => {
  const one = cli([...common, '--device', 'cpu:1', '--save', join(dir, 'one.safetensors')], { cwd: dir });
  t.equal(one.code, 0, one.stderr);
  const two = cli([...common, '--devices', 'cpu:1,cpu:2', '--save', join(dir, 'two.safetensors')], { cwd: dir });
  t.equal(two.code, 0, two.stderr);
  t.match(two.lines[0], { type: 'start', devices: ['cpu:1', 'cpu:2'] }, 'the start line names the replicas');
  const a = await (await restoreModel(join(dir, 'one.safetensors'))).model.stateDict();
  const b = await (await restoreModel(join(dir, 'two.safetensors'))).model.stateDict();
  const { worst } = stateGap(a, b);
  t.ok(worst <= 1e-5, `the weights agree to 1e-5 (worst ${worst.toExponential(2)})`);
});

t.test('bad --devices lists are usage errors or ND_ARG', async (t) => {
  const malformed = cli([...common, '--devices', 'cpu:1,gpu:2'], { cwd: dir });
  t.equal(malformed.code, 2, 'a malformed name is a usage error (exit 2)');
  t.match(malformed.stderr, /--devices must list cpu:N or cuda:N names/);
  const both = cli([...common, '--devices', 'cpu:1,cpu:2', '--device', 'cpu:1'], { cwd: dir });
  t.equal(both.code, 2);
  t.match(both.stderr, /exclude each other/);
  const twice = cli([...common, '--devices', 'cpu:1,cpu:1'], { cwd: dir });
  t.equal(twice.code, 1, "a duplicate is the library's ND_ARG (exit 1)");
  t.match(twice.stderr, /listed twice/);
});

t.test('train alexnet --devices cpu:1,cpu:2 equals --device cpu:1', { skip: !existsSync(IMAGENET) && `no ${IMAGENET}` }, async (t) => {
  const args = [
    'train',
    'alexnet',
    '--data',
    IMAGENET,
    '--variant',
    'owt',
    '--limit',
    '4',
    '--batch',
    '4',
    '--fc-width',
    '16',
    '--dropout',
    '0',
  ];
  const rest = ['--seed', '3', '--workers', '0', '--epochs', '1', '--json'];
  const one = cli([...args, ...rest, '--device', 'cpu:1', '--save', join(dir, 'a1.safetensors')], { cwd: dir });
  t.equal(one.code, 0, one.stderr);
  const two = cli([...args, ...rest, '--devices', 'cpu:1,cpu:2', '--save', join(dir, 'a2.safetensors')], { cwd: dir });
  t.equal(two.code, 0, two.stderr);
  t.match(
    two.lines.find((l) => l.type === 'start'),
    { devices: ['cpu:1', 'cpu:2'] },
  );
  const a = await (await restoreModel(join(dir, 'a1.safetensors'))).model.stateDict();
  const b = await (await restoreModel(join(dir, 'a2.safetensors'))).model.stateDict();
  const { worst } = stateGap(a, b);
  t.ok(worst <= 1e-5, `the weights agree to 1e-5 (worst ${worst.toExponential(2)})`);
});
