import t from 'tap';
import { ByteLru } from '../../../lib/data/images/cache.js';

t.test('ByteLru evicts the least recently used entries to stay under its byte cap', async (t) => {
  const c = new ByteLru<number, Uint8Array>(100);
  c.set(1, new Uint8Array(40));
  c.set(2, new Uint8Array(40));
  t.equal(c.bytes, 80);
  t.ok(c.get(1), 'a hit refreshes 1');
  c.set(3, new Uint8Array(40)); // over the cap: 2 is the least recent
  t.same([c.has(1), c.has(2), c.has(3)], [true, false, true]);
  t.equal(c.bytes, 80);
  t.equal(c.get(2), undefined);
  t.same(c.stats, { hits: 1, misses: 1 });
  c.set(1, new Uint8Array(10)); // replacing counts the new size only
  t.equal(c.bytes, 50);
  c.set(4, new Uint8Array(101));
  t.notOk(c.has(4), 'a value larger than the cap is not kept');
  t.equal(c.size, 2);
  c.set(5, new Uint8Array(100));
  t.same([c.size, c.bytes], [1, 100], 'a value of exactly the cap evicts everything else');
  c.clear();
  t.same([c.size, c.bytes], [0, 0]);
  const none = new ByteLru<number, Uint8Array>(0);
  none.set(1, new Uint8Array(1));
  t.equal(none.size, 0, 'a zero cap keeps nothing');
});
