/**
 * Runs a bench selection: the SGEMM ceiling first, then the peers started, then case by case
 * (case-run.ts) convkit and every present peer timed in turns, one line each. Lines go to a
 * sink (JSON lines or the terminal table, command.ts), so the runner knows nothing of output.
 */
import { ConvkitError } from '../errors.js';
import { device as deviceOf, type Device, type DeviceName } from '../tensor/device.js';
import { ceilingRunner, sgemmCeiling, type Ceiling } from './ceiling.js';
import { compareLine, loadEarlier, type ComparableLine } from './compare.js';
import { runCase } from './case-run.js';
import type { AbsentPeer, Contender } from './contender.js';
import { ConvkitContender } from './convkit-contender.js';
import { convkitVersion, deviceInfo } from './host.js';
import { absentPeerLine, ceilingLine, type Line, type LineBase } from './lines.js';
import type { BenchOptions } from './options.js';
import { startOrtPeer } from './ort-contender.js';
import { startTorchPeer } from './torch-contender.js';

export interface BenchSink {
  line(l: Line): void;
  /** What is running now, for a person watching (stderr on a terminal). */
  progress(msg: string): void;
}

/**
 * The one device the bench runs on. Several devices would be data-parallel replicas, which do
 * not exist yet: a coded error says so. cuda:N without a GPU is the library's own ND_NO_CUDA.
 */
export function benchDevice(specs: readonly string[]): Device {
  if (specs.length !== 1)
    throw new ConvkitError(
      'ND_ARG',
      `bench --device ${specs.join(',')}: several devices means data-parallel replicas, which convkit does not have yet (a later issue); bench one device at a time (cpu, cpu:N or cuda:N)`,
    );
  return deviceOf(specs[0] as DeviceName);
}

const isAbsent = (p: Contender | AbsentPeer): p is AbsentPeer => 'reason' in p;

async function startPeers(o: BenchOptions, dev: Device, threads: number): Promise<Array<Contender | AbsentPeer>> {
  const out: Array<Contender | AbsentPeer> = [];
  const cpuOnly = (impl: string, label?: string): AbsentPeer => ({
    impl,
    label,
    reason: `the peers run on the CPU; this bench runs on ${dev.name}`,
  });
  if (o.peers.includes('torch')) {
    if (dev.kind !== 'cpu') out.push(cpuOnly('pytorch', 'tuned'), cpuOnly('pytorch', 'default'));
    else out.push(...(await Promise.all([startTorchPeer('tuned', threads), startTorchPeer('default', threads)])));
  }
  if (o.peers.includes('ort')) out.push(dev.kind !== 'cpu' ? cpuOnly('onnxruntime-node') : startOrtPeer(threads));
  return out;
}

export async function runBench(o: BenchOptions, sink: BenchSink): Promise<void> {
  const t0 = performance.now();
  const dev = benchDevice(o.devices);
  // Read the earlier run before spending minutes on this one: a bad file fails at once.
  const earlier = o.compare ? loadEarlier(o.compare) : undefined;
  const base: LineBase = { convkit_version: convkitVersion(), device: deviceInfo(dev) };
  const emit = (l: Line) => {
    if (earlier) {
      const cmp = compareLine(l as ComparableLine, earlier, o.compare!);
      if (cmp) l.compare = cmp;
    }
    sink.line(l);
  };
  const timing = { rounds: o.rounds, warmup: o.warmup, roundSeconds: o.roundMs / 1000 };
  emit({
    type: 'start',
    ...base,
    cases: o.cases.length,
    peers: o.peers,
    rounds: o.rounds,
    warmup: o.warmup,
    round_ms: o.roundMs,
    quick: o.quick,
  });

  let ceiling: Ceiling | null = null;
  if (!o.noCeiling) {
    sink.progress('SGEMM ceiling (2048^3)');
    ceiling = await sgemmCeiling(dev, timing);
    emit(ceilingLine(base, ceiling, o.rounds));
  }

  // The ceiling again, in turns with every case (its lines' shares are over it, round by round).
  const turnsCeiling = o.noCeiling ? null : ceilingRunner(dev);
  const ours = new ConvkitContender(dev);
  const contenders: Contender[] = [ours];
  for (const p of await startPeers(o, dev, base.device.threads)) {
    if (isAbsent(p)) emit(absentPeerLine(base, p));
    else contenders.push(p);
  }
  try {
    for (const [i, c] of o.cases.entries()) {
      sink.progress(`[${i + 1}/${o.cases.length}] ${c.model} ${c.variant} ${c.pass} batch ${c.batch}`);
      await runCase(c, {
        contenders,
        ours,
        flop: ours.flops(c),
        oursExtra: () => ({ path: ours.path, peak_pool_mib: ours.peakPoolMib() }),
        ceiling,
        ceilingTurns: turnsCeiling ?? undefined,
        base,
        timing,
        emit,
      });
    }
  } finally {
    turnsCeiling?.dispose();
    for (const c of contenders)
      await c.close().catch((e: unknown) => {
        if (c === ours) throw e; // a peer that fails to close has already given its lines
      });
  }
  emit({ type: 'done', ...base, seconds: Number(((performance.now() - t0) / 1000).toFixed(1)) });
}
