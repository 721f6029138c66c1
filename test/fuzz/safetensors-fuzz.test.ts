// Seeded fuzzing of the safetensors reader and of checkpoint pairs (issue 9): bit flips,
// truncations, length-field edits, huge and nested shapes, wrong dtypes, bogus and nested JSON,
// broken metadata and mismatched pairs. Each case runs in a child process (a crash is counted,
// not fatal); every failure must be ND_FORMAT (ND_OOM allowed), every unmutated file must read.
import t from 'tap';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSafetensors, saveCheckpoint, type Checkpoint } from '../../lib/io/index.js';
import { optimizerPath, pendingOptimizerPath } from '../../lib/io/checkpoint.js';
import { checkFuzz, fuzzCases, fuzzSeed, runFileFuzz, type FuzzCase } from '../helpers/file-fuzz.js';
import { concat, int, mutateBytes, nestedJson, pick, type Rand } from '../helpers/mutate.js';
import { randomArray, rng } from '../helpers/rng.js';

const f32 = (n: number, seed: number): Float32Array => Float32Array.from(randomArray(n, seed));

/** Seed files: mixed dtypes, a scalar, an empty tensor, metadata. */
function seeds(): Uint8Array[] {
  return [
    concat(
      ...encodeSafetensors(
        { w: { dtype: 'F32', shape: [6, 1, 5, 5], data: f32(150, 1) }, b: { dtype: 'F32', shape: [6], data: f32(6, 2) } },
        { format: 'pt' },
      ),
    ),
    concat(
      ...encodeSafetensors({
        d: { dtype: 'F64', shape: [], data: Float64Array.from([Math.PI]) },
        i: { dtype: 'I32', shape: [2, 3], data: Int32Array.from([1, -2, 3, -4, 5, -6]) },
        u: { dtype: 'U8', shape: [5], data: Uint8Array.from([0, 1, 2, 254, 255]) },
        e: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
      }),
    ),
    concat(
      ...encodeSafetensors(
        {
          big: { dtype: 'I64', shape: [3], data: BigInt64Array.from([1n, -1n, 2n ** 62n]) },
          s: { dtype: 'I16', shape: [4], data: Int16Array.from([1, 2, 3, 4]) },
        },
        { a: 'x', b: 'y'.repeat(100) },
      ),
    ),
  ];
}

function split(file: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, unknown>, data: file.subarray(8 + n) };
}

function assemble(json: string, data: Uint8Array, length?: bigint): Uint8Array {
  const body = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, length ?? BigInt(body.length), true);
  return concat(prefix, body, data);
}

const HUGE = [2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53 - 1, 2 ** 53, 1e300];

/** One edit of a parsed header: a field of one tensor, the metadata, or the whole JSON text. */
function mutateHeader(r: Rand, file: Uint8Array): { how: string; bytes: Uint8Array } {
  const { header, data } = split(file);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const name = pick(r, names);
  const entry = { ...(header[name] as Record<string, unknown>) };
  const depth = int(r, 1000, 100_000);
  const edits: [string, () => string | void][] = [
    ['shape huge', () => void (entry.shape = [pick(r, HUGE), ...(entry.shape as number[]).slice(1)])],
    ['shape product overflow', () => void (entry.shape = [2 ** 31, 2 ** 31, 2 ** 31])],
    ['shape negative', () => void (entry.shape = [-1, ...(entry.shape as number[])])],
    ['shape float', () => void (entry.shape = [1.5])],
    ['shape string', () => void (entry.shape = String(entry.shape))],
    ['shape nested', () => `{"${name}":{"dtype":"F32","shape":${nestedJson(depth, 'array')},"data_offsets":[0,4]}}`],
    ['shape long', () => void (entry.shape = Array.from({ length: 100_000 }, () => 1))],
    ['dtype unknown', () => void (entry.dtype = pick(r, ['F31', 'f32', '', 'Q4', '__proto__', 'constructor', 'toString']))],
    ['dtype wrong size', () => void (entry.dtype = pick(r, ['F64', 'U8', 'F16', 'BOOL', 'I64', 'I32']))],
    ['dtype not a string', () => void (entry.dtype = pick(r, [32, null, true, ['F32'], { a: 1 }] as unknown[]))],
    ['dtype nested', () => `{"${name}":{"dtype":${nestedJson(depth, 'object')},"shape":[1],"data_offsets":[0,4]}}`],
    ['offsets shifted', () => void (entry.data_offsets = (entry.data_offsets as number[]).map((o) => o + int(r, -8, 8)))],
    ['offsets reversed', () => void (entry.data_offsets = [...(entry.data_offsets as number[])].reverse())],
    ['offsets huge', () => void (entry.data_offsets = [0, pick(r, HUGE)])],
    ['offsets short', () => void (entry.data_offsets = [(entry.data_offsets as number[])[0]])],
    ['offsets nested', () => `{"${name}":{"dtype":"F32","shape":[1],"data_offsets":${nestedJson(depth, 'array', '0,4')}}}`],
    ['field missing', () => void delete entry[pick(r, ['dtype', 'shape', 'data_offsets'])]],
    ['entry not an object', () => void (header[name] = pick(r, [null, 7, 'x', [], [1, 2]] as unknown[]))],
    [
      'metadata not strings',
      () => void (header.__metadata__ = pick(r, [{ k: 1 }, { k: null }, [1], 'x', { k: { deep: [1] } }] as unknown[])),
    ],
    ['metadata nested', () => `{"__metadata__":${nestedJson(depth, 'object')}}`],
    ['bogus JSON', () => pick(r, ['{', '{"a":', 'null', '[]', '"str"', '{}}', '{"a":1,}', "{'a':1}", 'NaN', '{"a":01}'])],
    ['nested JSON', () => nestedJson(depth, pick(r, ['array', 'object'] as const))],
    ['duplicate keys', () => `{"${name}":${JSON.stringify(entry)},"${name}":${JSON.stringify(entry)},"x":${JSON.stringify(entry)}}`],
  ];
  const [how, edit] = pick(r, edits);
  const text = edit();
  if (!text && header[name] !== null && typeof header[name] === 'object' && !Array.isArray(header[name])) header[name] = entry;
  let json = text ?? JSON.stringify(header);
  while (json.length % 8) json += ' ';
  // Sometimes the length field lies too.
  const lie =
    r() < 0.2
      ? pick(r, [0n, 1n, 7n, BigInt(json.length) - 1n, BigInt(json.length) + 1n, 2n ** 63n, 2n ** 64n - 1n, 100_000_001n])
      : undefined;
  return { how: lie === undefined ? how : `${how}, length ${lie}`, bytes: assemble(json, data, lie) };
}

function lenetLike(seed: number): Checkpoint {
  return {
    params: { 'c1.weight': { shape: [6, 1, 5, 5], data: f32(150, seed) }, 'c1.bias': { shape: [6], data: f32(6, seed + 1) } },
    optimizer: {
      'c1.weight.momentum': { shape: [6, 1, 5, 5], data: f32(150, seed + 2) },
      step: { shape: [1], data: Int32Array.from([seed]) },
    },
    position: { epoch: 1, batch: 2, step: seed, seed: 3 },
    meta: { model: 'lenet5', lr: 0.01 },
  };
}

t.test('safetensors files and checkpoint pairs, mutated', async (t) => {
  const dir = t.testdir();
  const r = rng(fuzzSeed(0x5afe));
  const cases: FuzzCase[] = [];
  const base = seeds();
  base.forEach((b, k) => {
    const file = join(dir, `seed-${k}.safetensors`);
    writeFileSync(file, b);
    cases.push({ kind: 'safetensors', files: [file], name: `seed ${k}`, valid: true });
  });
  const n = fuzzCases(240);
  for (let i = 0; i < n; i++) {
    const src = pick(r, base);
    const m = r() < 0.5 ? mutateHeader(r, src) : mutateBytes(r, src, 256);
    const file = join(dir, `case-${i}.safetensors`);
    writeFileSync(file, m.bytes);
    cases.push({ kind: 'safetensors', files: [file], name: m.how });
  }

  // Checkpoint pairs: one of the two files mutated, or the pair's ids and kinds crossed, or a
  // mutated pending optimizer file where loadCheckpoint looks for one.
  const pairs = fuzzCases(90);
  for (let i = 0; i < pairs; i++) {
    const sub = join(dir, `pair-${i}`);
    mkdirSync(sub);
    const path = join(sub, 'ck.safetensors');
    const saved = await saveCheckpoint(path, lenetLike(i + 1));
    const { readFileSync, renameSync, copyFileSync, rmSync } = await import('node:fs');
    let how: string;
    if (i < 3) how = 'unmutated';
    else {
      const which = pick(r, ['weights', 'optimizer', 'pending', 'crossed', 'missing']);
      const target = which === 'weights' ? path : optimizerPath(path);
      if (which === 'crossed') {
        copyFileSync(path, optimizerPath(path));
        how = "weights file in the optimizer file's place";
      } else if (which === 'missing') {
        rmSync(optimizerPath(path));
        how = 'no optimizer file';
      } else {
        const m = r() < 0.5 ? mutateHeader(r, readFileSync(target)) : mutateBytes(r, readFileSync(target), 256);
        if (which === 'pending') {
          // As if killed after the commit: the optimizer file under its pending name, an older one in place.
          renameSync(optimizerPath(path), pendingOptimizerPath(path, saved.checkpointId));
          writeFileSync(pendingOptimizerPath(path, saved.checkpointId), m.bytes);
          const other = await saveCheckpoint(join(sub, 'other.safetensors'), lenetLike(99));
          copyFileSync(other.optimizerPath, optimizerPath(path));
        } else writeFileSync(target, m.bytes);
        how = `${which}: ${m.how}`;
      }
    }
    cases.push({ kind: 'checkpoint', files: [path], name: how, valid: i < 3 });
  }

  const report = await runFileFuzz('test/fuzz/file-reader-child.ts', cases, dir);
  checkFuzz(t, 'safetensors + checkpoints', cases, report, { codes: ['ND_FORMAT', 'ND_OOM'] });
  // A check that the mutations reach the parsers at all (a fuzzer whose inputs all pass would prove nothing).
  const mutated = cases.filter((c) => !c.valid).length;
  t.ok((report.errors.ND_FORMAT ?? 0) >= 0.3 * mutated, `mutations are refused (${report.errors.ND_FORMAT} of ${mutated} mutated inputs)`);
});
