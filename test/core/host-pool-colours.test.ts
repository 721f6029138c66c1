// The host pool's placement of large blocks (native/core/allocator.cc): each starts a different
// "colour" past its 2 MiB boundary, so that the buffers one op streams do not all map element i
// to the same L2 set (sgdFlat ran at half the triad's bandwidth when they did). Checked through
// the blocks' addresses, not through timings; the values the blocks hold are checked too.
import t from 'tap';
import { Tensor, ops, memory } from '../../lib/index.js';
import { native } from '../../lib/native.js';

const MIB = 2 ** 20;

t.test('large blocks start at different offsets within a 2 MiB page, all 64-byte aligned', async (t) => {
  const offsets = native.hostBlockOffsets(32, 9 * MIB);
  t.equal(offsets.length, 32);
  t.ok(
    offsets.every((o) => o % 64 === 0),
    `every offset is a multiple of 64: ${offsets.join(', ')}`,
  );
  const distinct = new Set(offsets).size;
  t.ok(distinct >= 16, `32 blocks held at once take at least 16 offsets (got ${distinct})`);
  // No two blocks held at once start within one cache line's colour step of each other more
  // often than the colour count allows: at least two offsets differ in their 4 KiB page bits.
  t.ok(new Set(offsets.map((o) => Math.floor(o / 4096))).size >= 2, 'the offsets differ in bits above the page offset');
});

t.test('small blocks stay 64-byte aligned', async (t) => {
  for (const bytes of [1, 64, 4096, 100_000, MIB]) {
    const offsets = native.hostBlockOffsets(4, bytes);
    t.ok(
      offsets.every((o) => o % 64 === 0),
      `${bytes} bytes: ${offsets.join(', ')}`,
    );
  }
});

t.test('a large block given back is handed out again, and emptyCache frees coloured blocks', async (t) => {
  const before = memory().hostPool.osAllocs;
  const first = native.hostBlockOffsets(3, 12 * MIB);
  const again = native.hostBlockOffsets(3, 12 * MIB);
  t.same(new Set(again), new Set(first), 'the cached blocks come back with their offsets');
  t.ok(memory().hostPool.osAllocs - before <= 3, 'the second round took nothing new from the OS');
  native.emptyCache();
  // After the cache is emptied (each block freed from its real start), fresh blocks work.
  const x = Tensor.uniform([3 * 2 ** 20], { seed: 5 });
  const y = Tensor.uniform([3 * 2 ** 20], { seed: 6 });
  const xs = x.dataSync(),
    ys = y.dataSync();
  const s = ops.add(x, y);
  const ss = s.dataSync();
  let bad = -1;
  for (let i = 0; i < ss.length; i++)
    if (ss[i] !== Math.fround(xs[i] + ys[i])) {
      bad = i;
      break;
    }
  t.equal(bad, -1, 'add over two 12 MiB tensors is exact element by element');
  for (const z of [x, y, s]) z.dispose();
  native.emptyCache();
});

t.test('hostBlockOffsets refuses what it cannot do', async (t) => {
  t.throws(() => native.hostBlockOffsets(2048, 64), /at most 1024 blocks/);
  t.throws(() => native.hostBlockOffsets(-1, 64));
});
