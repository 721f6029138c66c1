// The progress output: the bar never reaches the terminal's last column (so it never wraps) and
// redraws on resize; it shows running means; the ETA covers the whole run; piped output keeps
// about 20 batch lines per epoch (or one in --log-every) and every epoch line.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { RunClock, barLine, barReporter, defaultLogEvery, fmtTime, jsonReporter, tee, type RunPlan } from '../../lib/cli/progress.js';
import { buckets, lossChart } from '../../lib/cli/term-chart.js';
import type { BatchLogs, EpochLogs } from '../../lib/train/types.js';

const plan: RunPlan = { epochs: 5, startEpoch: 0, startBatch: 0, batchesPerEpoch: 938 };

function logs(epoch: number, batch: number, over: Partial<BatchLogs> = {}): BatchLogs {
  return {
    epoch,
    batch,
    loss: 0.5,
    accuracy: 1,
    meanLoss: 0.1234,
    meanAccuracy: 0.9567,
    size: 64,
    seen: (batch + 1) * 64,
    imagesPerSec: 1000,
    eta: 1,
    ...over,
  };
}

const epochLogs = (epoch: number): EpochLogs => ({
  epoch,
  loss: 0.1,
  accuracy: 0.97,
  seconds: 2,
  imagesPerSec: 30000,
  lr: 0.05,
  valLoss: 0.08,
  valAccuracy: 0.975,
});

t.test('the bar fits every width and shows running means', async (t) => {
  for (let cols = 1; cols <= 200; cols++) {
    const line = barLine(logs(1, 311), plan, 28123.4, 123, cols);
    if (line.length > Math.max(1, cols - 1)) t.fail(`${line.length} characters at ${cols} columns: ${line}`);
  }
  const at80 = barLine(logs(1, 311, { loss: 9.9, accuracy: 0 }), plan, 28123.4, 123, 80);
  t.ok(at80.length <= 79, `80 columns: ${at80.length} characters`);
  t.match(at80, /^epoch 2\/5 \[#+\.+\] {2}312\/938 {2}loss 0\.1234 {2}acc 95\.7% {2}28123 img\/s {2}eta 2:03$/, at80);
  t.notMatch(at80, /9\.9/, 'the running mean, not the batch value');
  const narrow = barLine(logs(1, 311), plan, 28123.4, 123, 40);
  t.match(narrow, /^epoch 2\/5/, 'a narrow terminal keeps the start of the line');
  t.equal(fmtTime(3725), '1:02:05');
  t.equal(fmtTime(NaN), '--:--');
});

t.test('the ETA covers the whole run; images/s is smoothed', async (t) => {
  let now = 0;
  const clock = new RunClock(2, () => now);
  clock.start({ epochs: 3, startEpoch: 1, startBatch: 5, batchesPerEpoch: 10 }); // 2 * 10 - 5 = 15 batches to go
  now = 1;
  let r = clock.batch(100);
  t.equal(r.total, 15);
  t.equal(r.eta, 14, '1 s per batch, 14 batches left in the run (not only in this epoch)');
  t.equal(r.rate, 100);
  now = 1.1; // one fast batch (1000 img/s) moves the average only part of the way
  r = clock.batch(100);
  t.ok(r.rate > 100 && r.rate < 200, `smoothed rate ${r.rate}`);
  t.ok(Math.abs(r.eta - (1.1 / 2) * 13) < 1e-9, 'mean time per batch so far times the batches left');
});

t.test('piped: about 20 batch lines per epoch, --log-every, every epoch line', async (t) => {
  t.equal(defaultLogEvery(938), 47);
  t.equal(defaultLogEvery(5), 1);
  const run = (logEvery?: number) => {
    const out: Array<Record<string, unknown>> = [];
    const r = jsonReporter((l) => out.push(JSON.parse(l) as Record<string, unknown>), { logEvery });
    r.start(plan);
    for (let e = 0; e < 5; e++) {
      for (let b = 0; b < 938; b++) r.batch(logs(e, b));
      r.epoch(epochLogs(e));
    }
    r.close();
    return out;
  };
  const lines = run();
  const batches = lines.filter((l) => l.type === 'batch');
  t.equal(batches.length, 5 * 20, '20 per epoch (batch 47, 94, ..., 940 > 938 so the last batch ends each epoch)');
  t.ok(
    batches.every((l) => typeof l.meanLoss === 'number' && typeof l.loss === 'number'),
    'running and batch values',
  );
  t.equal(lines.filter((l) => l.type === 'epoch').length, 5, 'every epoch line');
  t.equal(run(100).filter((l) => l.type === 'batch').length, 5 * 10, '--log-every 100: 9 + the last batch per epoch');
  t.equal(run(1).filter((l) => l.type === 'batch').length, 5 * 938);
  const both: string[] = [];
  const tt = tee(
    jsonReporter((l) => both.push(`a${l}`)),
    jsonReporter((l) => both.push(`b${l}`)),
  );
  tt.info({ type: 'x' }, 'x');
  t.same(both, ['a{"type":"x"}\n', 'b{"type":"x"}\n']);
});

/** A stand-in for a TTY WriteStream: its columns can change and it emits 'resize'. */
class FakeTty extends EventEmitter {
  columns = 80;
  written = '';
  write(s: string): boolean {
    this.written += s;
    return true;
  }
}

t.test('the bar redraws on resize to the new width and prints the loss chart at the end', async (t) => {
  const tty = new FakeTty();
  const bar = barReporter(tty as unknown as NodeJS.WriteStream);
  bar.start({ epochs: 1, startEpoch: 0, startBatch: 0, batchesPerEpoch: 50 });
  for (let b = 0; b < 20; b++) bar.batch(logs(0, b, { loss: 2 / (b + 1) }));
  const drawn = tty.written.split('\r').filter((s) => s.startsWith('epoch'));
  t.ok(drawn.length >= 1, 'drew the bar');
  t.ok(
    drawn.every((s) => s.replace('\x1b[K', '').length <= 79),
    'at most 79 characters at 80 columns',
  );
  t.equal(tty.listenerCount('resize'), 1, 'listens for resize');
  tty.written = '';
  tty.columns = 50;
  tty.emit('resize');
  t.match(tty.written, /^\x1b\[1A\r\x1b\[J\repoch 1\/1/, 'moves up over the wrapped old line, clears, redraws');
  const line = tty.written.split('\r').at(-1)!.replace('\x1b[K', '');
  t.ok(line.length <= 49, `the redraw fits 50 columns (${line.length})`);
  for (let b = 20; b < 50; b++) bar.batch(logs(0, b, { loss: 2 / (b + 1) }));
  bar.epoch(epochLogs(0));
  t.match(tty.written, /epoch 1\/1: loss 0\.1000 {2}acc 97\.00% {2}val loss 0\.0800 {2}val acc 97\.50%/);
  tty.written = '';
  bar.close();
  t.equal(tty.listenerCount('resize'), 0, 'stops listening');
  t.match(tty.written, /loss over 50 batches:/);
  t.ok(
    tty.written.split('\n').every((l) => l.length <= 49),
    'the chart fits too',
  );
  t.match(tty.written, /2\.0000/, 'the first loss labels the top of the axis');
});

t.test('chart buckets', async (t) => {
  t.same(buckets([1, 2, 3, 4], 2), [1.5, 3.5]);
  t.same(buckets([1, 2], 5), [1, 2]);
  t.equal(lossChart([1], 80), '', 'one point draws nothing');
  t.equal(lossChart([1, 2, 3], 15), '', 'too narrow a terminal draws nothing');
});
