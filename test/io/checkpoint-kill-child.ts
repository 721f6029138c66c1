// Run by checkpoint-kill.test.ts: trains a real LeNet-5 one SGD step at a time and saves a
// checkpoint pair after every step, reporting on stdout (one line per event, written
// synchronously so that a line is out before any SIGKILL):
//   begin <id> <save> <sum>    a save started (from the protocol's first step); sum = sum of all weights
//   committed <id> <save>      the weights rename landed (the commit point)
//   saved <id> <save> <sum>    saveTrainingCheckpoint returned
// With KILL_STEP=<step> and KILL_SAVE=<n>, the child SIGKILLs itself at that step of its n-th
// save (KILL_NTH=<k>: at the k-th time that step is reached in that save, for the per-chunk
// steps); otherwise it saves until it is killed from outside or SAVES saves are done.
import { writeSync } from 'node:fs';
import { SGD, Tensor, lenet5 } from '../../lib/index.js';
import { setCheckpointStepHook } from '../../lib/io/checkpoint.js';
import { saveTrainingCheckpoint } from '../../lib/train/checkpointing.js';
import { rng } from '../helpers/rng.js';

const path = process.argv[2]!;
const killStep = process.env.KILL_STEP;
const killSave = Number(process.env.KILL_SAVE ?? 0);
const killNth = Number(process.env.KILL_NTH ?? 1);
const saves = Number(process.env.SAVES ?? 1e9);
const first = Number(process.env.FIRST_SAVE ?? 1);

const say = (line: string): void => void writeSync(1, `${line}\n`);

let save = 0;
let seen = 0;
let current = '';
let sum = 0;
setCheckpointStepHook((step, id) => {
  if (step === 'begin') {
    seen = 0;
    current = id;
    say(`begin ${id} ${save} ${sum}`);
  }
  if (step === 'weights-renamed') say(`committed ${id} ${save}`);
  if (killStep && save === killSave && step === killStep && ++seen === killNth) process.kill(process.pid, 'SIGKILL');
});

const model = lenet5({ variant: 'modern', seed: 3 });
const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
const r = rng(first);
const n = 4;
for (save = first; save < first + saves; save++) {
  const x = Tensor.fromArray(
    Float32Array.from({ length: n * 28 * 28 }, () => r()),
    [n, 1, 28, 28],
  );
  const labels = Tensor.fromArray(
    Int32Array.from({ length: n }, () => Math.floor(r() * 10)),
    [n],
    { dtype: 'int32' },
  );
  const { loss, correct } = model.trainStep(x, labels);
  opt.step();
  await loss.data();
  for (const t of [x, labels, loss, correct]) t.dispose();
  sum = 0;
  for (const v of Object.values(await model.stateDict())) for (const e of v.data) sum += e;
  await saveTrainingCheckpoint(path, model, opt, { epoch: 0, batch: save, step: save, seed: 1 }, { save, sum });
  say(`saved ${current} ${save} ${sum}`);
}
