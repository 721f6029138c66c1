/**
 * model.loadStateDict from a PyTorch state dict saved as safetensors, through the documented key
 * mapping of lib/io/torch-mapping.ts (torchvision's AlexNet for alexnet 'owt', the torch.nn twin
 * for lenet5 'modern', or a mapping of your own).
 */
import { ArgumentError } from '../errors.js';
import { readTorchSafetensors, torchMappingFor, type KeyMapping } from '../io/torch-mapping.js';
import type { Model } from './model.js';

export async function loadTorchWeights(model: Model, path: string, mapping?: KeyMapping): Promise<void> {
  const m = mapping ?? torchMappingFor(model.config);
  if (!m)
    throw new ArgumentError(
      `loadTorchWeights: no built-in PyTorch key mapping for ${model.name} (${JSON.stringify(model.config)}); pass one`,
    );
  model.loadStateDict(await readTorchSafetensors(path, m));
}
