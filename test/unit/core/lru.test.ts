/** LruCache: bounded, least recently used out first, `get` refreshes, `peek` and `has` do not. */
import t from "tap";
import { LruCache } from "../../../components/core/mod.ts";

t.test("holds at most maxEntries; the least recently used goes first", async (t) => {
  const evicted: string[] = [];
  const cache = new LruCache<string, number>(3, { onEvict: (key) => evicted.push(key) });
  for (const [i, key] of ["a", "b", "c"].entries()) cache.set(key, i);
  t.equal(cache.get("a"), 0, "a used: now the newest");
  t.equal(cache.peek("b"), 1, "peek does not refresh b");
  t.ok(cache.has("b"));
  cache.set("d", 3);
  t.same(evicted, ["b"], "b was the least recently used");
  t.same(cache.keys(), ["c", "a", "d"]);
  cache.set("c", 9); // replacing refreshes too
  cache.set("e", 4);
  t.same(evicted, ["b", "a"]);
  t.equal(cache.size, 3);
  t.equal(cache.get("a"), undefined);
  t.ok(cache.delete("e"));
  t.same(evicted, ["b", "a"], "delete is not an eviction");
  for (let i = 0; i < 10_000; i++) cache.set(`k${i}`, i);
  t.equal(cache.size, 3, "never more than its size");
});

t.test("a size below 1 is refused", async (t) => {
  t.throws(() => new LruCache(0), RangeError);
  t.throws(() => new LruCache(1.5), RangeError);
});
