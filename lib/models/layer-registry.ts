/**
 * The layer registry: every layer kind convkit can save, as plain JSON options (a LayerSpec), so a
 * weights file describes its model with data only, never code. For each kind it knows how to
 * 1. check a spec (types and bounds, before anything is allocated: a file is untrusted input),
 * 2. say which parameters the layer has and their shapes (to check a file's tensors against its
 *    metadata before building the model),
 * 3. build the layer,
 * 4. describe an existing layer (for models assembled by hand from layer objects).
 * Initialisers ride along in the spec so lenet5()/alexnet() build through here too; a restore
 * overwrites every parameter anyway.
 */
import { ArgumentError, ConvkitError } from '../errors.js';
import {
  AvgPool2d,
  Conv2d,
  Dropout,
  Flatten,
  Linear,
  LocalResponseNorm,
  MaxPool2d,
  RBFOutput,
  ReLU,
  ScaledTanh,
  Sigmoid,
  Subsampling,
  Tanh,
  type Init,
  type Layer,
} from '../layers/index.js';
import type { Device, DeviceName } from '../tensor/device.js';

export type LayerKind =
  | 'conv2d'
  | 'linear'
  | 'maxpool2d'
  | 'avgpool2d'
  | 'subsampling'
  | 'lrn'
  | 'relu'
  | 'tanh'
  | 'scaled-tanh'
  | 'sigmoid'
  | 'dropout'
  | 'flatten'
  | 'rbf-output';

/** One layer as JSON: its kind, its (unique) name and the options of its constructor. */
export interface LayerSpec {
  kind: LayerKind;
  name: string;
  [option: string]: unknown;
}

/** Widest channel / feature count a spec may ask for (2^20): bounds what a file can make us allocate. */
export const MAX_WIDTH = 1 << 20;
/** Largest kernel, stride, padding or dilation a spec may hold. */
export const MAX_GEOMETRY = 4096;
/** Most elements one parameter may have (its byte size stays below 8 GiB and int32 indexing holds). */
export const MAX_ELEMENTS = 2 ** 31 - 1;

type Fail = (msg: string) => Error;

const formatFail =
  (where: string): Fail =>
  (msg) =>
    new ConvkitError('ND_FORMAT', `${where}: ${msg}`);

function int(spec: LayerSpec, key: string, fail: Fail, o: { min?: number; max?: number; default?: number } = {}): number {
  const v = spec[key] ?? o.default;
  const min = o.min ?? 1;
  const max = o.max ?? MAX_WIDTH;
  if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max)
    throw fail(`layer '${spec.name}' (${spec.kind}): '${key}' must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return v as number;
}

function bool(spec: LayerSpec, key: string, fail: Fail, dflt: boolean): boolean {
  const v = spec[key] ?? dflt;
  if (typeof v !== 'boolean') throw fail(`layer '${spec.name}' (${spec.kind}): '${key}' must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

function finite(spec: LayerSpec, key: string, fail: Fail, dflt: number, o: { min?: number; below?: number } = {}): number {
  const v = spec[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || (o.min !== undefined && v < o.min) || (o.below !== undefined && v >= o.below))
    throw fail(
      `layer '${spec.name}' (${spec.kind}): '${key}' must be a finite number${o.min !== undefined ? ` >= ${o.min}` : ''}${o.below !== undefined ? ` below ${o.below}` : ''}, got ${JSON.stringify(v)}`,
    );
  return v;
}

const INIT_KINDS = new Set(['lecun-uniform', 'torch-default', 'he-normal', 'normal', 'constant']);

function init(spec: LayerSpec, key: string, fail: Fail): Init | undefined {
  const v = spec[key] as Record<string, unknown> | undefined;
  if (v === undefined) return undefined;
  const ok =
    v !== null &&
    typeof v === 'object' &&
    INIT_KINDS.has(v.kind as string) &&
    (v.kind !== 'normal' || (typeof v.std === 'number' && Number.isFinite(v.std))) &&
    (v.kind !== 'constant' || (typeof v.value === 'number' && Number.isFinite(v.value)));
  if (!ok)
    throw fail(
      `layer '${spec.name}' (${spec.kind}): '${key}' is not an initializer (${[...INIT_KINDS].join(', ')}), got ${JSON.stringify(v)}`,
    );
  return v as unknown as Init;
}

function elements(spec: LayerSpec, shape: number[], fail: Fail): number[] {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n > MAX_ELEMENTS)
    throw fail(`layer '${spec.name}' (${spec.kind}): a parameter of shape [${shape.join(', ')}] has ${n} elements, over ${MAX_ELEMENTS}`);
  return shape;
}

interface Ctx {
  seed: number;
  device?: DeviceName | Device;
}

interface KindDef {
  /** Parameter name suffix -> shape; throws (via fail) on a spec that does not make sense. */
  params(spec: LayerSpec, fail: Fail): Record<string, number[]>;
  build(spec: LayerSpec, ctx: Ctx, fail: Fail): Layer;
}

function convGeometry(s: LayerSpec, fail: Fail) {
  const inChannels = int(s, 'inChannels', fail);
  const outChannels = int(s, 'outChannels', fail);
  const kernelSize = int(s, 'kernelSize', fail, { max: MAX_GEOMETRY });
  const groups = int(s, 'groups', fail, { default: 1 });
  if (inChannels % groups || outChannels % groups)
    throw fail(`layer '${s.name}' (conv2d): inChannels ${inChannels} and outChannels ${outChannels} must both divide by groups ${groups}`);
  const g = {
    inChannels,
    outChannels,
    kernelSize,
    groups,
    stride: int(s, 'stride', fail, { default: 1, max: MAX_GEOMETRY }),
    padding: int(s, 'padding', fail, { default: 0, min: 0, max: MAX_GEOMETRY }),
    dilation: int(s, 'dilation', fail, { default: 1, max: MAX_GEOMETRY }),
    bias: bool(s, 'bias', fail, true),
    mask: undefined as number[][] | undefined,
  };
  if (s.mask !== undefined) {
    const m = s.mask as unknown[];
    const cPerG = inChannels / groups;
    if (
      !Array.isArray(m) ||
      m.length !== outChannels ||
      m.some((r) => !Array.isArray(r) || r.length !== cPerG || r.some((v) => v !== 0 && v !== 1))
    )
      throw fail(`layer '${s.name}' (conv2d): 'mask' must be [${outChannels}][${cPerG}] of 0/1`);
    g.mask = m as number[][];
  }
  return g;
}

function poolOpts(s: LayerSpec, fail: Fail) {
  const kernelSize = int(s, 'kernelSize', fail, { max: MAX_GEOMETRY });
  return {
    name: s.name,
    kernelSize,
    stride: int(s, 'stride', fail, { default: kernelSize, max: MAX_GEOMETRY }),
    padding: int(s, 'padding', fail, { default: 0, min: 0, max: MAX_GEOMETRY }),
    ceilMode: bool(s, 'ceilMode', fail, false),
  };
}

const none = () => ({});

/** params() of a kind without parameters whose options still need checking. */
const checkedOnly =
  (check: (s: LayerSpec, fail: Fail) => unknown) =>
  (s: LayerSpec, fail: Fail): Record<string, number[]> => {
    check(s, fail);
    return {};
  };

const KINDS: Record<LayerKind, KindDef> = {
  conv2d: {
    params(s, fail) {
      const g = convGeometry(s, fail);
      const w = elements(s, [g.outChannels, g.inChannels / g.groups, g.kernelSize, g.kernelSize], fail);
      const out: Record<string, number[]> = { weight: w };
      if (g.bias) out.bias = [g.outChannels];
      return out;
    },
    build(s, ctx, fail) {
      const g = convGeometry(s, fail);
      return new Conv2d({
        ...g,
        name: s.name,
        init: init(s, 'init', fail),
        biasInit: init(s, 'biasInit', fail),
        seed: ctx.seed,
        device: ctx.device,
      });
    },
  },
  linear: {
    params(s, fail) {
      const i = int(s, 'inFeatures', fail);
      const o = int(s, 'outFeatures', fail);
      const w = elements(s, [o, i], fail);
      const out: Record<string, number[]> = { weight: w };
      if (bool(s, 'bias', fail, true)) out.bias = [o];
      return out;
    },
    build(s, ctx, fail) {
      return new Linear({
        name: s.name,
        inFeatures: int(s, 'inFeatures', fail),
        outFeatures: int(s, 'outFeatures', fail),
        bias: bool(s, 'bias', fail, true),
        init: init(s, 'init', fail),
        biasInit: init(s, 'biasInit', fail),
        seed: ctx.seed,
        device: ctx.device,
      });
    },
  },
  maxpool2d: {
    params: checkedOnly(poolOpts),
    build: (s, _ctx, fail) => new MaxPool2d(poolOpts(s, fail)),
  },
  avgpool2d: {
    params: checkedOnly((s, fail) => {
      poolOpts(s, fail);
      bool(s, 'countIncludePad', fail, true);
    }),
    build: (s, _ctx, fail) => new AvgPool2d({ ...poolOpts(s, fail), countIncludePad: bool(s, 'countIncludePad', fail, true) }),
  },
  subsampling: {
    params(s, fail) {
      const c = int(s, 'channels', fail);
      int(s, 'kernelSize', fail, { default: 2, max: MAX_GEOMETRY });
      return { coef: [c], bias: [c] };
    },
    build: (s, ctx, fail) =>
      new Subsampling({
        name: s.name,
        channels: int(s, 'channels', fail),
        kernelSize: int(s, 'kernelSize', fail, { default: 2, max: MAX_GEOMETRY }),
        init: init(s, 'init', fail),
        seed: ctx.seed,
        device: ctx.device,
      }),
  },
  lrn: {
    params: checkedOnly(lrnOpts),
    build(s, _ctx, fail) {
      const l = new LocalResponseNorm(lrnOpts(s, fail));
      if (s.summary === false) l.inSummary = false;
      return l;
    },
  },
  relu: { params: none, build: (s) => new ReLU(s.name) },
  tanh: { params: none, build: (s) => new Tanh(s.name) },
  'scaled-tanh': { params: none, build: (s) => new ScaledTanh(s.name) },
  sigmoid: { params: none, build: (s) => new Sigmoid(s.name) },
  flatten: { params: none, build: (s) => new Flatten(s.name) },
  dropout: {
    params: checkedOnly(dropoutOpts),
    build: (s, _ctx, fail) => new Dropout(dropoutOpts(s, fail)),
  },
  'rbf-output': {
    params: checkedOnly(rbfOpts),
    build: (s, ctx, fail) => new RBFOutput({ ...rbfOpts(s, fail), device: ctx.device }),
  },
};

function lrnOpts(s: LayerSpec, fail: Fail) {
  const alphaConvention = s.alphaConvention;
  if (alphaConvention !== 'literal' && alphaConvention !== 'per-size')
    throw fail(`layer '${s.name}' (lrn): 'alphaConvention' must be 'literal' or 'per-size', got ${JSON.stringify(alphaConvention)}`);
  return {
    name: s.name,
    size: int(s, 'size', fail, { default: 5, max: MAX_GEOMETRY }),
    alpha: finite(s, 'alpha', fail, 1e-4),
    beta: finite(s, 'beta', fail, 0.75),
    k: finite(s, 'k', fail, 2),
    alphaConvention: alphaConvention as 'literal' | 'per-size',
  };
}

function dropoutOpts(s: LayerSpec, fail: Fail) {
  const mode = s.mode ?? 'inverted';
  if (mode !== 'inverted' && mode !== 'paper')
    throw fail(`layer '${s.name}' (dropout): 'mode' must be 'inverted' or 'paper', got ${JSON.stringify(mode)}`);
  const seed = s.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw fail(`layer '${s.name}' (dropout): 'seed' must be an integer, got ${JSON.stringify(seed)}`);
  return { name: s.name, p: finite(s, 'p', fail, 0.5, { min: 0, below: 1 }), seed: seed as number, mode: mode as 'inverted' | 'paper' };
}

function rbfOpts(s: LayerSpec, fail: Fail) {
  const classes = int(s, 'classes', fail, { default: 10 });
  const inFeatures = int(s, 'inFeatures', fail, { default: 84 });
  let codes: Float32Array | undefined;
  if (s.codes !== undefined) {
    const c = s.codes as unknown[];
    if (!Array.isArray(c) || c.length !== classes * inFeatures || c.some((v) => typeof v !== 'number' || !Number.isFinite(v)))
      throw fail(
        `layer '${s.name}' (rbf-output): 'codes' must be ${classes * inFeatures} finite numbers ([classes ${classes}, inFeatures ${inFeatures}])`,
      );
    codes = Float32Array.from(c as number[]);
  } else if (classes !== 10 || inFeatures !== 84)
    throw fail(
      `layer '${s.name}' (rbf-output): without 'codes' it must be 10 x 84 (LeNet-5's digit bitmaps), got ${classes} x ${inFeatures}`,
    );
  return { name: s.name, classes, inFeatures, codes };
}

function kindOf(spec: unknown, i: number, fail: Fail): KindDef {
  const s = spec as LayerSpec;
  if (s === null || typeof s !== 'object' || Array.isArray(s))
    throw fail(`layer ${i} must be an object { kind, name, ...options }, got ${JSON.stringify(spec)}`);
  if (typeof s.name !== 'string' || s.name.length === 0 || s.name.length > 200)
    throw fail(`layer ${i}: 'name' must be a non-empty string of at most 200 characters`);
  const def = Object.hasOwn(KINDS, s.kind) ? KINDS[s.kind] : undefined;
  if (!def) throw fail(`layer ${i} ('${s.name}'): unknown kind ${JSON.stringify(s.kind)} (known: ${Object.keys(KINDS).join(', ')})`);
  return def;
}

/**
 * Every parameter the specs imply, by its full name ("c1.weight"), with its shape; nothing is
 * allocated. Throws ND_FORMAT (naming `where`) for an unknown kind, a bad or out-of-bounds option
 * or duplicate names.
 */
export function specParameterShapes(specs: readonly LayerSpec[], where: string): Map<string, number[]> {
  const fail = formatFail(where);
  if (!Array.isArray(specs) || specs.length === 0) throw fail("'layers' must be a non-empty array of layer specs");
  if (specs.length > 10_000) throw fail(`${specs.length} layers is over the limit of 10000`);
  const out = new Map<string, number[]>();
  const names = new Set<string>();
  specs.forEach((s, i) => {
    const def = kindOf(s, i, fail);
    if (names.has(s.name)) throw fail(`two layers are named '${s.name}'`);
    names.add(s.name);
    for (const [suffix, shape] of Object.entries(def.params(s, fail))) out.set(`${s.name}.${suffix}`, shape);
  });
  return out;
}

/**
 * Builds the layers of `specs` (checked first); if one fails, those already built are disposed
 * before the error is thrown, so a failed build leaves no live tensor. Errors are ArgumentErrors
 * for code (where = the caller's name) or whatever `fail` makes.
 */
export function buildLayers(
  specs: readonly LayerSpec[],
  ctx: Ctx,
  where: string,
  fail: Fail = (m) => new ArgumentError(`${where}: ${m}`),
): Layer[] {
  specs.forEach((s, i) => kindOf(s, i, fail));
  const built: Layer[] = [];
  try {
    for (const s of specs) built.push(KINDS[s.kind].build(s, ctx, fail));
  } catch (e) {
    for (const l of built) l.dispose();
    throw e;
  }
  return built;
}

/** A spec that rebuilds `layer` (its options; parameter values travel in the weights file). */
export async function describeLayer(l: Layer): Promise<LayerSpec> {
  const name = l.name;
  if (l instanceof Conv2d) {
    const o = l.opts;
    const spec: LayerSpec = { kind: 'conv2d', name, ...o, bias: l.bias !== null };
    if (l.mask) {
      const m = await l.mask.data();
      const cPerG = o.inChannels / o.groups;
      spec.mask = Array.from({ length: o.outChannels }, (_, r) => Array.from(m.subarray(r * cPerG, (r + 1) * cPerG), (v) => (v ? 1 : 0)));
    }
    return spec;
  }
  if (l instanceof Linear) return { kind: 'linear', name, inFeatures: l.inFeatures, outFeatures: l.outFeatures, bias: l.bias !== null };
  if (l instanceof MaxPool2d || l instanceof AvgPool2d) {
    const spec: LayerSpec = {
      kind: l instanceof MaxPool2d ? 'maxpool2d' : 'avgpool2d',
      name,
      kernelSize: l.kernelSize,
      stride: l.stride,
      padding: l.padding,
      ceilMode: l.ceilMode,
    };
    if (l instanceof AvgPool2d) spec.countIncludePad = l.countIncludePad;
    return spec;
  }
  if (l instanceof Subsampling) return { kind: 'subsampling', name, channels: l.channels, kernelSize: l.kernelSize };
  if (l instanceof LocalResponseNorm) return { kind: 'lrn', name, ...l.opts, ...(l.inSummary ? {} : { summary: false }) };
  if (l instanceof Dropout) return { kind: 'dropout', name, p: l.p, seed: l.seed, mode: l.mode };
  if (l instanceof RBFOutput)
    return { kind: 'rbf-output', name, classes: l.classes, inFeatures: l.inFeatures, codes: Array.from(await l.codes.data()) };
  // Subclasses first: ScaledTanh and friends share a base class, so match exact constructors.
  const simple: [new (name?: string) => Layer, LayerKind][] = [
    [ScaledTanh, 'scaled-tanh'],
    [ReLU, 'relu'],
    [Tanh, 'tanh'],
    [Sigmoid, 'sigmoid'],
    [Flatten, 'flatten'],
  ];
  for (const [C, kind] of simple) if (l.constructor === C) return { kind, name };
  throw new ArgumentError(
    `describeLayer: layer '${name}' (${l.constructor.name}) is not in the layer registry, so it cannot be saved without code`,
  );
}
