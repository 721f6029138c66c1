// The fuzz child for every file reader (see test/helpers/file-fuzz.ts): each case kind calls one
// reader on the case's file and checks the result it gives for an input it accepts.
import { readSafetensors } from '../../lib/io/safetensors.js';
import { loadCheckpoint } from '../../lib/io/checkpoint.js';
import { readIdx } from '../../lib/data/idx.js';
import { decodeImage } from '../../lib/data/images/decode.js';
import { readImageList } from '../../lib/data/images/sources.js';
import { serveCases } from '../helpers/file-fuzz-child.js';

const product = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

await serveCases({
  async safetensors(c) {
    const f = await readSafetensors(c.files[0]!);
    for (const [name, t] of Object.entries(f.tensors))
      if (t.data.length !== product(t.shape)) return `tensor ${name}: ${t.data.length} values for shape [${t.shape}]`;
    for (const v of Object.values(f.metadata)) if (typeof v !== 'string') return 'a metadata value is not a string';
    return null;
  },
  async checkpoint(c) {
    const ck = await loadCheckpoint(c.files[0]!);
    for (const [name, t] of Object.entries({ ...ck.params, ...ck.optimizer }))
      if (t.data.length !== product(t.shape)) return `${name}: ${t.data.length} values for shape [${t.shape}]`;
    if (!Number.isSafeInteger(ck.position.step) || ck.position.step < 0) return `position.step ${ck.position.step}`;
    return null;
  },
  async idx(c) {
    const a = await readIdx(c.files[0]!, c.options as { expectNdim?: number; maxBytes?: number });
    if (a.data.length !== product(a.dims)) return `${a.data.length} bytes for dims ${a.dims.join('x')}`;
    return null;
  },
  async image(c) {
    const px = await decodeImage(c.files[0]!);
    return px.length === 256 * 256 * 3 ? null : `${px.length} bytes, expected 256x256x3`;
  },
  async 'image-list'(c) {
    const s = await readImageList(c.files[0]!, c.options as { checkFiles?: boolean });
    if (s.paths.length !== s.labels.length || s.paths.length === 0) return `${s.paths.length} paths, ${s.labels.length} labels`;
    if (s.labels.some((l) => l < 0 || l >= s.classes.length)) return 'a label outside the classes';
    return null;
  },
});
