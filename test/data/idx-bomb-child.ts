// Run by idx-limits.test.ts in a child process (so its peak memory is its own): reads the IDX
// file named on the command line and prints one JSON line with the outcome and the peak RSS.
import { readIdx } from '../../lib/data/idx.js';

const file = process.argv[2]!;
let outcome: Record<string, unknown>;
try {
  const a = await readIdx(file);
  outcome = { ok: true, dims: a.dims };
} catch (e) {
  const err = e as Error & { code?: string };
  outcome = { ok: false, code: err.code ?? null, name: err.name, message: err.message };
}
// maxRSS is in KiB.
process.stdout.write(`${JSON.stringify({ ...outcome, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
