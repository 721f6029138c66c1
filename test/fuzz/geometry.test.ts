// Issue 9, finding 2: huge but accepted geometry read out of bounds (SIGSEGV) or gave wrong
// results. Seeded fuzz over conv2d, im2col, maxPool2d and the raw conv binding, each case run
// in a child process (test/helpers/child-cases.ts) so a crash is counted, not fatal: small
// valid cases must match a float64 reference, everything else must be refused with a coded
// error (ND_ARG / ND_SHAPE), and nothing may crash. The three examples come first.
import t from 'tap';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChildCases } from '../helpers/child-cases.js';
import { fuzzCases, fuzzSeed } from '../helpers/file-fuzz.js';
import { geometryCases } from './geometry-cases.js';

const here = dirname(fileURLToPath(import.meta.url));
// CONVKIT_FUZZ_GEOMETRY_CASES sets the count outright; otherwise CONVKIT_FUZZ_SCALE scales it as it
// does every fuzzer's (npm run fuzz), and CONVKIT_FUZZ_SEED shifts the seed.
const COUNT = Number(process.env.CONVKIT_FUZZ_GEOMETRY_CASES ?? fuzzCases(300));
const SEED = fuzzSeed(9);

t.test(`op geometry fuzz: ${COUNT} seeded cases (seed ${SEED}) + the issue's 3, in a child process`, async (t) => {
  const cases = geometryCases(COUNT, SEED);
  const report = await runChildCases(join(here, 'geometry-runner.ts'), cases, { env: { ...process.env, CONVKIT_NO_CUDA: '1' } });
  const computed = report.outcomes.filter((o) => o.detail === 'computed').length;
  const rejected = report.outcomes.filter((o) => o.status === 'ok' && o.detail.startsWith('rejected')).length;
  const skipped = report.outcomes.filter((o) => o.status === 'ok' && o.detail.startsWith('skipped')).length;
  t.comment(
    `cases ${cases.length}: ok ${report.ok} (computed ${computed}, rejected ${rejected}, ` +
      `skipped ${skipped}: valid but too large to run here), failed ${report.failed}, crashed ${report.crashed}`,
  );
  for (const o of report.outcomes.filter((o) => o.status !== 'ok').slice(0, 10))
    t.comment(`case ${o.index} ${o.status}: ${JSON.stringify(cases[o.index])}: ${o.detail}`);
  t.equal(report.crashed, 0, 'no case crashed the process');
  t.equal(report.failed, 0, 'no uncoded error, wrong result or refused valid case');
  t.equal(report.ok, cases.length, 'every case answered');
  t.ok(computed >= cases.length / 5, `valid cases were computed and checked (${computed})`);
  t.ok(rejected >= cases.length / 5, `invalid cases were refused with a coded error (${rejected})`);
  t.ok(skipped <= cases.length / 20, `few cases skipped as too large (${skipped})`);
  const first = report.outcomes.slice(0, 3).map((o) => o.detail);
  t.same(first, ['rejected ND_ARG', 'rejected ND_ARG', 'rejected ND_ARG'], "the issue's three examples are refused with ND_ARG");
});
