/**
 * Loading PyTorch state dicts saved as safetensors (`safetensors.torch.save_file(model.state_dict(), f)`)
 * into convkit models, through a documented key mapping. Layouts need no transposition: our
 * Conv2d weight is [out, in/groups, kh, kw] and our Linear weight is [out, in], as in PyTorch.
 *
 * The mappings (PyTorch key -> convkit parameter name):
 *
 * torchvision.models.alexnet (and any module with its features/classifier layout) ->
 * alexnet({ variant: 'owt' }). The Sequential indices are torchvision's; ReLU, MaxPool and
 * Dropout have no parameters, which is why the numbers skip:
 *
 *   features.0.{weight,bias}    conv1   Conv2d(3, 64, 11, stride 4, padding 2)
 *   features.3.{weight,bias}    conv2   Conv2d(64, 192, 5, padding 2)
 *   features.6.{weight,bias}    conv3   Conv2d(192, 384, 3, padding 1)
 *   features.8.{weight,bias}    conv4   Conv2d(384, 256, 3, padding 1)
 *   features.10.{weight,bias}   conv5   Conv2d(256, 256, 3, padding 1)
 *   classifier.1.{weight,bias}  fc6     Linear(9216, 4096)
 *   classifier.4.{weight,bias}  fc7     Linear(4096, 4096)
 *   classifier.6.{weight,bias}  fc8     Linear(4096, numClasses)
 *
 * torchvision's AdaptiveAvgPool2d((6, 6)) is the identity for the 224x224 input this model takes.
 *
 * The torch.nn twin of LeNet-5 (scripts/fixtures/torch_nets.py LeNet5, the modern form) uses our
 * names already: c1, c3, c5, f6, f7 . {weight, bias} map to themselves.
 *
 * F32 tensors load as they are; F64, F16 and BF16 are converted to float32.
 */
import { ConvkitError } from '../errors.js';
import { readSafetensors, type ReadTensor } from './safetensors.js';

/** PyTorch key -> convkit parameter name. */
export type KeyMapping = Readonly<Record<string, string>>;

function pairs(entries: [string, string][]): KeyMapping {
  const out: Record<string, string> = {};
  for (const [torch, ours] of entries) {
    out[`${torch}.weight`] = `${ours}.weight`;
    out[`${torch}.bias`] = `${ours}.bias`;
  }
  return Object.freeze(out);
}

/** torchvision.models.alexnet's state dict -> alexnet({ variant: 'owt' }). */
export const TORCHVISION_ALEXNET: KeyMapping = pairs([
  ['features.0', 'conv1'],
  ['features.3', 'conv2'],
  ['features.6', 'conv3'],
  ['features.8', 'conv4'],
  ['features.10', 'conv5'],
  ['classifier.1', 'fc6'],
  ['classifier.4', 'fc7'],
  ['classifier.6', 'fc8'],
]);

/** The torch.nn LeNet-5 twin (modern form) -> lenet5(): the same names. */
export const TORCH_LENET5: KeyMapping = pairs([
  ['c1', 'c1'],
  ['c3', 'c3'],
  ['c5', 'c5'],
  ['f6', 'f6'],
  ['f7', 'f7'],
]);

/**
 * The mapping for a model config (model.config), or null when there is none: torchvision's
 * AlexNet for alexnet 'owt', the twin for lenet5 'modern'.
 */
export function torchMappingFor(config: Record<string, unknown>): KeyMapping | null {
  if (config.model === 'alexnet' && config.variant === 'owt') return TORCHVISION_ALEXNET;
  if (config.model === 'lenet5' && (config.variant ?? 'modern') === 'modern') return TORCH_LENET5;
  return null;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function toFloat32(file: string, key: string, t: ReadTensor): Float32Array {
  switch (t.dtype) {
    case 'F32':
      return t.data as Float32Array;
    case 'F64':
      return Float32Array.from(t.data as Float64Array);
    case 'F16':
      return Float32Array.from(t.data as Uint16Array, halfToFloat);
    case 'BF16': {
      const bits = new Uint32Array((t.data as Uint16Array).length);
      (t.data as Uint16Array).forEach((v, i) => (bits[i] = v << 16));
      return new Float32Array(bits.buffer);
    }
    default:
      throw new ConvkitError(
        'ND_FORMAT',
        `${file}: tensor '${key}' is ${t.dtype}; a weight must be a floating-point tensor (F32, F64, F16 or BF16)`,
      );
  }
}

/**
 * Reads a PyTorch state dict saved as safetensors and renames its tensors through `mapping`, for
 * model.loadStateDict(). Every key of the file must be in the mapping and every mapped name must
 * be in the file (ND_FORMAT naming the key otherwise): a partial load would run with random weights.
 */
export async function readTorchSafetensors(
  path: string,
  mapping: KeyMapping,
): Promise<Record<string, { shape: number[]; data: Float32Array }>> {
  const f = await readSafetensors(path);
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [key, t] of Object.entries(f.tensors)) {
    const name = Object.hasOwn(mapping, key) ? mapping[key] : undefined;
    if (!name)
      throw new ConvkitError(
        'ND_FORMAT',
        `${path}: tensor '${key}' has no entry in the key mapping (expected keys: ${Object.keys(mapping).join(', ')})`,
      );
    out[name] = { shape: t.shape, data: toFloat32(path, key, t) };
  }
  for (const [key, name] of Object.entries(mapping))
    if (!out[name]) throw new ConvkitError('ND_FORMAT', `${path}: tensor '${key}' (for ${name}) is missing from the file`);
  return out;
}
