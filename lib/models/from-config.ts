/**
 * A stored model config (a checkpoint's meta.model) back to a ModelSpec, checked as untrusted
 * input: the kind must be one this version builds and every option must pass the same bounds as
 * the builders' (widths at most MAX_WIDTH), all before a single tensor is allocated.
 */
import { ConvkitError } from '../errors.js';
import { alexnetSpec, type AlexNetOptions } from './alexnet.js';
import { lenet5Spec, type LeNet5Options } from './lenet5.js';
import { checkSequential, type ModelSpec } from './model-spec.js';

/** Throws ND_FORMAT naming `where` (the file) for a config this version cannot rebuild. */
export function specFromConfig(cfg: unknown, where: string): ModelSpec {
  if (cfg === null || typeof cfg !== 'object' || Array.isArray(cfg))
    throw new ConvkitError('ND_FORMAT', `${where}: meta.model must be an object naming the model, got ${JSON.stringify(cfg)}`);
  const c = cfg as Record<string, unknown>;
  // The builders' own checks, re-coded: a bad option in a file is a format error, not a bug in the caller.
  const asFormat = (build: () => ModelSpec): ModelSpec => {
    try {
      return build();
    } catch (e) {
      throw new ConvkitError(
        'ND_FORMAT',
        `${where}: meta.model ${JSON.stringify(cfg).slice(0, 300)} cannot be rebuilt: ${(e as Error).message}`,
        { cause: e },
      );
    }
  };
  if (c.model === 'lenet5') return asFormat(() => lenet5Spec(c as LeNet5Options));
  if (c.model === 'alexnet') return asFormat(() => alexnetSpec(c as AlexNetOptions));
  if (c.model === 'sequential') return checkSequential(c, `${where}: meta.model`);
  throw new ConvkitError(
    'ND_FORMAT',
    `${where}: meta.model ${JSON.stringify(cfg).slice(0, 300)} names no model this version can build (lenet5, alexnet, sequential)`,
  );
}
