// A fuzz child whose cases misbehave on purpose, so runner.test.ts can check that the runner
// counts crashes, hangs, uncoded errors and broken results instead of missing them.
import { ConvkitError } from '../../lib/errors.js';
import { serveCases } from '../helpers/file-fuzz-child.js';

await serveCases({
  async ok() {
    return null;
  },
  async coded() {
    throw new ConvkitError('ND_FORMAT', 'x: bad at byte 3');
  },
  async plain() {
    throw new RangeError('Maximum call stack size exceeded');
  },
  async broken() {
    return '3 values for shape [2]';
  },
  async crash() {
    process.kill(process.pid, 'SIGSEGV');
    await new Promise((r) => setTimeout(r, 10_000));
    return null;
  },
  async unhandled() {
    void Promise.reject(new Error('nobody catches this'));
    await new Promise((r) => setTimeout(r, 10_000));
    return null;
  },
  async hang() {
    await new Promise((r) => setTimeout(r, 60_000));
    return null;
  },
});
