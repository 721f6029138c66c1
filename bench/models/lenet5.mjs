// LeNet-5, both forms, training and inference, with PyTorch (tuned and default) and
// onnxruntime-node timed in turns with convkit when they are installed: a thin caller of
// `convkit bench` (lib/bench, shipped in the package), kept so `npm run bench` runs it.
// Extra arguments go to convkit bench: `node bench/models/lenet5.mjs --quick`, `--batch 64`.
import { benchMain } from '../../dist/bench/command.js';

process.exitCode = await benchMain(['--model', 'lenet5', '--peers', 'torch,ort', '--json', ...process.argv.slice(2)]);
