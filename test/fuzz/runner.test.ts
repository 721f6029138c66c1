// The fuzz runner itself must notice every way a case can go wrong; otherwise "zero crashes"
// from the fuzzers would mean nothing.
import t from 'tap';
import { runFileFuzz, type FuzzCase } from '../helpers/file-fuzz.js';

t.test('crashes, hangs, uncoded errors and broken results are all counted, and the run goes on', async (t) => {
  const dir = t.testdir();
  const kinds = ['ok', 'crash', 'coded', 'plain', 'hang', 'broken', 'unhandled', 'ok'];
  const cases: FuzzCase[] = kinds.map((kind) => ({ kind, files: [], name: kind }));
  const r = await runFileFuzz('test/fuzz/runner-selftest-child.ts', cases, dir, { caseTimeoutMs: 3000 });
  t.same(
    r.crashes.map((c) => kinds[c.i]),
    ['crash', 'unhandled'],
    'the SIGSEGV and the unhandled rejection are crashes',
  );
  t.match(r.crashes[0]!.how, /SIGSEGV/);
  t.same(
    r.hangs.map((i) => kinds[i]),
    ['hang'],
    'the hang is killed and counted',
  );
  t.equal(r.children, 4, 'a new child resumed after each crash and the hang');
  t.equal(r.outcomes[0]?.ok, true);
  t.equal(r.outcomes[7]?.ok, true, 'the case after the last crash still ran');
  t.match(r.outcomes[2], { ok: false, code: 'ND_FORMAT', convkit: true });
  t.match(r.outcomes[3], { ok: false, code: null, convkit: false, name: 'RangeError' });
  t.match(r.outcomes[5], { ok: true, broken: '3 values for shape [2]' });
  t.same(r.errors, { ND_FORMAT: 1, null: 1 });
});
