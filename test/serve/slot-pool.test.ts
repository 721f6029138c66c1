// The example server's shared slots (examples/server/slot-pool.mjs): a released slot is handed
// out again (no new memory per request), a held one never is, the pool stops at maxSlots, and
// each chunk is announced once.
import t from 'tap';
// @ts-expect-error: an example's plain .mjs module, without types
import { SlotPool } from '../../examples/server/slot-pool.mjs';

interface Slot {
  chunk: number;
  offset: number;
  bytes: Uint8Array;
  release: () => void;
}

t.test('slots are reused after release, never while held, and bounded by maxSlots', async (t) => {
  const announced: number[] = [];
  const pool = new SlotPool({ slotBytes: 100, maxSlots: 5, slotsPerChunk: 2, onChunk: (c: number) => announced.push(c) });
  const held: Slot[] = Array.from({ length: 5 }, () => pool.acquire());
  t.ok(
    held.every((s) => s !== null && s.bytes.length === 100 && s.bytes.buffer instanceof SharedArrayBuffer),
    'five 100-byte shared slots',
  );
  const places = new Set(held.map((s) => `${s.chunk}:${s.offset}`));
  t.equal(places.size, 5, 'each held slot is its own place');
  t.same(announced, [0, 1, 2], 'three chunks (2 + 2 + 1 slots), each announced once');
  t.equal(pool.acquire(), null, 'past maxSlots: null (the caller uses a fresh buffer)');
  t.equal(pool.inUse, 5);
  held[3]!.bytes.fill(7);
  held[3]!.release();
  held[3]!.release(); // a second release changes nothing
  t.equal(pool.inUse, 4, 'one release, counted once');
  const again: Slot = pool.acquire();
  t.equal(`${again.chunk}:${again.offset}`, `${held[3]!.chunk}:${held[3]!.offset}`, 'the released slot is handed out again');
  t.equal(again.bytes[0], 7, 'the very same memory');
  t.equal(pool.acquire(), null, 'and nothing more: the double release did not free a second place');
  t.same(announced, [0, 1, 2], 'no new chunk for a reused slot');
  t.throws(() => new SlotPool({ slotBytes: 0, maxSlots: 1 }), RangeError);
});
