/**
 * Group steps built on the store: every rank arriving (naming the ranks that did not, on a
 * timeout), and every rank agreeing on a value (the start-up check that all ranks build the same
 * model with the same batch size). Each step uses its own key prefix; ranks must take the steps in
 * the same order, which the process group guarantees by numbering them.
 */
import { ArgumentError, ConvkitError } from '../errors.js';
import type { StoreClient } from './store-client.js';

export interface GroupPlace {
  rank: number;
  worldSize: number;
}

function rankKeys(prefix: string, worldSize: number): string[] {
  return Array.from({ length: worldSize }, (_, r) => `${prefix}/${r}`);
}

/** The ranks whose keys are still missing, as "1, 3". */
async function missingRanks(store: StoreClient, keys: string[]): Promise<string> {
  let present: boolean[];
  try {
    present = await store.check(keys);
  } catch {
    return 'unknown (the store stopped answering)';
  }
  return present.flatMap((p, r) => (p ? [] : [String(r)])).join(', ');
}

/**
 * Marks this rank arrived at `prefix` and waits for the others; ND_TIMEOUT after timeoutMs names
 * the ranks that never arrived.
 */
export async function arriveAll(store: StoreClient, prefix: string, place: GroupPlace, timeoutMs: number, value = '1'): Promise<void> {
  const keys = rankKeys(prefix, place.worldSize);
  await store.set(keys[place.rank]!, value);
  try {
    await store.wait(keys, timeoutMs);
  } catch (err) {
    if ((err as ConvkitError).code !== 'ND_TIMEOUT') throw err;
    const missing = await missingRanks(store, keys);
    throw new ConvkitError(
      'ND_TIMEOUT',
      `${prefix}: rank ${place.rank} waited ${timeoutMs} ms; ranks ${missing} of ${place.worldSize} never arrived`,
      { cause: err },
    );
  }
}

/**
 * Every rank publishes `value` under `label`; resolves when all agree, else ND_ARG naming the
 * ranks grouped by the value they hold (say, a different model or batch size on one rank).
 */
export async function checkSame(
  store: StoreClient,
  prefix: string,
  label: string,
  place: GroupPlace,
  value: string,
  timeoutMs: number,
): Promise<void> {
  if (typeof value !== 'string') throw new ArgumentError(`checkSame(${label}): value must be a string`);
  await arriveAll(store, prefix, place, timeoutMs, value);
  const values = await Promise.all(rankKeys(prefix, place.worldSize).map(async (k) => (await store.get(k, timeoutMs)).toString('utf8')));
  const groups = new Map<string, number[]>();
  values.forEach((v, r) => groups.set(v, [...(groups.get(v) ?? []), r]));
  if (groups.size === 1) return;
  const parts = [...groups].map(([v, ranks]) => `rank${ranks.length > 1 ? 's' : ''} ${ranks.join(', ')}: ${JSON.stringify(v)}`);
  throw new ArgumentError(
    `the ranks disagree on ${label} (${parts.join('; ')}); every rank must build the same model with the same batch size`,
  );
}
