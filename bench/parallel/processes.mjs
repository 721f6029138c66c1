#!/usr/bin/env node
// Data parallelism across processes over Gloo on loopback, against one process: images/s of
// LeNet-5 and AlexNet with 1 process x all threads and with N processes x (threads / N), in
// turns, plus each process's time per step in the gradient all-reduce. One JSON line per
// configuration (min/median/max over rounds). Needs the dist build and the Gloo shim.
//   node bench/parallel/processes.mjs [--model lenet5|alexnet|both] [--rounds 3] [--nproc 2]
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuModel } from '../../dist/bench/host.js';
import { roundSpread, spread } from '../../dist/bench/timing.js';
import { native } from '../../dist/native.js';
import { scriptArgs } from '../lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const values = scriptArgs(import.meta.url, {
  model: { type: 'string', default: 'both' },
  rounds: { type: 'string', default: '3' },
  nproc: { type: 'string', default: '2' },
});
const threads = native.threads();
const nproc = Number(values.nproc);
const cases = { lenet5: { batch: 256, steps: 20 }, alexnet: { batch: 32, steps: 3 } };

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

async function group(name, world, threadsEach) {
  const port = await freePort();
  const { batch, steps } = cases[name];
  const runs = Array.from({ length: world }, (_, rank) => {
    const child = spawn(process.execPath, [join(here, 'processes-child.mjs'), name, String(batch), String(steps), String(threadsEach)], {
      env: {
        ...process.env,
        RANK: String(rank),
        WORLD_SIZE: String(world),
        LOCAL_RANK: String(rank),
        LOCAL_WORLD_SIZE: String(world),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    return new Promise((resolve, reject) =>
      child.once('exit', (code) =>
        code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1))) : reject(new Error(`rank ${rank} exited ${code}`)),
      ),
    );
  });
  const lines = await Promise.all(runs);
  return lines[0];
}

const which = values.model === 'both' ? ['lenet5', 'alexnet'] : [values.model];
for (const name of which) {
  const configs = [
    { label: `1x${threads}`, world: 1, threadsEach: threads },
    { label: `${nproc}x${Math.max(1, Math.floor(threads / nproc))}`, world: nproc, threadsEach: Math.max(1, Math.floor(threads / nproc)) },
  ];
  const samples = configs.map(() => []);
  const reduceMs = configs.map(() => []);
  const stepMs = configs.map(() => []);
  let bytes = 0;
  for (let r = 0; r < Number(values.rounds); r++)
    for (const [i, c] of configs.entries()) {
      const line = await group(name, c.world, c.threadsEach);
      samples[i].push(line.imagesPerSec);
      reduceMs[i].push(line.allReduceMsPerStep);
      stepMs[i].push(line.stepMs);
      bytes = line.bytesPerStep;
    }
  const base = spread(samples[0]).median;
  for (const [i, c] of configs.entries())
    console.log(
      JSON.stringify({
        bench: 'data-parallel-processes',
        device: `${cpuModel()} (${threads} threads), ${c.world} process(es) x ${c.threadsEach} thread(s), Gloo over loopback`,
        model: name,
        config: c.label,
        batch: cases[name].batch,
        imagesPerSec: roundSpread(spread(samples[i])),
        stepMs: roundSpread(spread(stepMs[i])),
        allReduceMsPerStep: roundSpread(spread(reduceMs[i])),
        bytesAllReducedPerStep: bytes,
        ratioToOneProcess: +(spread(samples[i]).median / base).toFixed(3),
      }),
    );
}
