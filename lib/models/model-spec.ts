/**
 * A model as data: its layers as registry specs, its per-sample input shape, its criterion and
 * the config that a checkpoint stores (meta.model). lenet5(), alexnet() and custom Sequential
 * models all go through here, so any of them rebuilds from a weights file's metadata alone.
 *
 * Stored configs: { model: 'lenet5', ...LeNet5Options }, { model: 'alexnet', ...AlexNetOptions },
 * or { model: 'sequential', name, inputShape, criterion, layers: LayerSpec[] }.
 */
import { ArgumentError, ConvkitError } from '../errors.js';
import { Sequential } from '../layers/sequential.js';
import type { Device, DeviceName } from '../tensor/device.js';
import { MAX_ELEMENTS, MAX_WIDTH, buildLayers, describeLayer, type LayerSpec } from './layer-registry.js';
import { CRITERION_KINDS, type CriterionKind } from './criteria.js';
import { Model } from './model.js';

export interface ModelSpec {
  name: string;
  inputShape: number[];
  criterion: CriterionKind;
  layers: LayerSpec[];
  /** What a checkpoint stores to rebuild this model (meta.model). */
  config: Record<string, unknown>;
}

/** Builds a ModelSpec's layers (on `device`) into a Model; nothing stays allocated if it throws. */
export function buildModel(spec: ModelSpec, device?: DeviceName | Device, fail?: (m: string) => Error): Model {
  const layers = buildLayers(spec.layers, { seed: Number(spec.config.seed ?? 0), device }, spec.name, fail);
  try {
    const net = new Sequential(layers);
    net.outputShape(spec.inputShape); // the shapes chain, or a ShapeError naming the layer
    // Checked before the Model exists: it lays the parameters out in its flat buffers.
    return new Model(spec.name, net, spec.inputShape, spec.criterion, spec.config);
  } catch (e) {
    for (const l of layers) l.dispose();
    throw e;
  }
}

export interface SequentialModelOptions {
  inputShape: readonly number[];
  criterion?: CriterionKind;
  name?: string;
  /** Seeds every initializer (per parameter name). */
  seed?: number;
  device?: DeviceName | Device;
}

/**
 * A custom model from layer specs, e.g.
 *   sequentialModel([{ kind: 'conv2d', name: 'c1', inChannels: 1, outChannels: 4, kernelSize: 3 }, ...], { inputShape: [1, 8, 8] })
 * It saves and restores like lenet5(): the specs are its checkpoint metadata.
 */
export function sequentialModel(layers: LayerSpec[], o: SequentialModelOptions): Model {
  const config = sequentialConfig(layers, o);
  return buildModel(
    checkSequential(config, 'sequentialModel', (m) => new ArgumentError(`sequentialModel: ${m}`)),
    o.device,
  );
}

function sequentialConfig(layers: LayerSpec[], o: SequentialModelOptions): Record<string, unknown> {
  return {
    model: 'sequential',
    name: o.name ?? 'sequential',
    inputShape: [...(o.inputShape ?? [])],
    criterion: o.criterion ?? 'softmax-cross-entropy',
    seed: o.seed ?? 0,
    layers,
  };
}

/** Checks a { model: 'sequential' } config's own fields (the layers are checked by the registry). */
export function checkSequential(
  cfg: Record<string, unknown>,
  where: string,
  fail: (m: string) => Error = (m) => new ConvkitError('ND_FORMAT', `${where}: ${m}`),
): ModelSpec {
  const s = cfg.inputShape;
  if (
    !Array.isArray(s) ||
    s.length < 1 ||
    s.length > 4 ||
    s.some((d) => !Number.isSafeInteger(d) || d < 1 || d > MAX_WIDTH) ||
    s.reduce((a: number, b: number) => a * b, 1) > MAX_ELEMENTS
  )
    throw fail(`'inputShape' must be 1 to 4 positive integers (each at most ${MAX_WIDTH}), got ${JSON.stringify(s)}`);
  const criterion = cfg.criterion as CriterionKind;
  if (!CRITERION_KINDS.includes(criterion))
    throw fail(`'criterion' must be ${CRITERION_KINDS.map((k) => `'${k}'`).join(' or ')}, got ${JSON.stringify(criterion)}`);
  const name = cfg.name ?? 'sequential';
  if (typeof name !== 'string' || name.length > 200) throw fail(`'name' must be a string of at most 200 characters`);
  if (!Number.isSafeInteger(cfg.seed ?? 0)) throw fail(`'seed' must be an integer, got ${JSON.stringify(cfg.seed)}`);
  if (!Array.isArray(cfg.layers)) throw fail(`'layers' must be an array of layer specs`);
  return { name, inputShape: s as number[], criterion, layers: cfg.layers as LayerSpec[], config: cfg };
}

/**
 * What a checkpoint stores to rebuild `model`: its config when it came from lenet5(), alexnet()
 * or sequentialModel(), else a 'sequential' config described from its layer objects (throws
 * ND_ARG for a layer kind outside the registry).
 */
export async function describeModel(model: Model): Promise<Record<string, unknown>> {
  const kind = model.config.model;
  if (kind === 'lenet5' || kind === 'alexnet' || kind === 'sequential') return model.config;
  const layers: LayerSpec[] = [];
  for (const l of model.net.layers) layers.push(await describeLayer(l));
  return sequentialConfig(layers, {
    inputShape: model.inputShape,
    criterion: model.criterion.kind,
    name: model.name,
    seed: Number(model.config.seed ?? 0),
  });
}
