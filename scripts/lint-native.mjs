#!/usr/bin/env node
// clang-format check (or --fix) of every C++/CUDA source under native/, with the repo's
// .clang-format. Separate from ESLint/Prettier because clang-format is a system package
// (Debian's clang-format), not an npm one: a missing binary is a clear error, not a pass.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const fix = process.argv.includes('--fix');
const exe = process.env.CLANG_FORMAT ?? 'clang-format';

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.(cc|h|cu|cuh)$/.test(e.name) ? [p] : [];
  });
}

const files = sources('native');
const args = fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files];
const r = spawnSync(exe, ['--style=file', ...args], { stdio: 'inherit' });
if (r.error) {
  console.error(
    `lint-native: could not run ${exe} (${r.error.code ?? r.error.message}); install it with \`apt-get install clang-format\` or set CLANG_FORMAT`,
  );
  process.exit(2);
}
if (r.status !== 0) {
  console.error(`lint-native: ${files.length} files checked; run \`npm run format\` to fix`);
  process.exit(r.status ?? 1);
}
console.log(`lint-native: ${files.length} C++/CUDA files formatted as .clang-format says`);
