/**
 * PyTorch fixtures: test/fixtures/<name>.json, written by scripts/make-fixtures.py with Debian's
 * python3-torch. Tests only read them, so neither CI nor a developer needs torch.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export function loadFixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as T;
}
