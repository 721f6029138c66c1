// AlexNet, paper and one-tower forms, training and inference, with PyTorch (tuned and default)
// and onnxruntime-node timed in turns with convkit when they are installed: a thin caller of
// `convkit bench` (lib/bench, shipped in the package), kept so `npm run bench` runs it.
// `--only train` or `--only inference` runs one pass (= convkit bench --pass); other arguments
// go to convkit bench: `node bench/models/alexnet.mjs --model alexnet:paper --quick`.
import { benchMain } from '../../dist/bench/command.js';

const args = process.argv.slice(2).map((a) => (a === '--only' ? '--pass' : a));
process.exitCode = await benchMain(['--model', 'alexnet', '--peers', 'torch,ort', '--json', ...args]);
