/**
 * The Dispatcher's artifact-bytes cache over a store that counts its reads: a burst of gets of
 * one artifact is one read, later gets none; a removed artifact leaves the cache; large ones are
 * read each time.
 */
import t from "tap";
import {
  CACHED_ARTIFACT_MAX_BYTES,
  cachedBlobs,
} from "../../../components/dispatcher/artifact_bytes.ts";
import type { DispatcherStores } from "../../../components/dispatcher/mod.ts";

function countingStore(blobs: Map<string, Uint8Array>) {
  let reads = 0;
  const store: DispatcherStores["blobs"] = {
    put: async () => "unused",
    has: async (key) => blobs.has(key),
    list: async () => [],
    async get(key) {
      reads++;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return blobs.get(key);
    },
    remove: async (key) => void blobs.delete(key),
  };
  return { store, reads: () => reads };
}

t.test("a burst of gets is one read; a removed artifact leaves the cache", async (t) => {
  const blobs = new Map([["a", new Uint8Array([1, 2, 3])]]);
  const { store, reads } = countingStore(blobs);
  const cached = cachedBlobs(store);
  const got = await Promise.all(Array.from({ length: 20 }, () => cached.get("a")));
  t.equal(reads(), 1, "20 gets at once, one read");
  t.ok(got.every((bytes) => bytes?.[2] === 3));
  await cached.get("a");
  t.equal(reads(), 1, "then from the cache");
  await cached.remove("a");
  t.equal(await cached.get("a"), undefined, "gone from the store and the cache");
  t.equal(reads(), 2);
});

t.test("an artifact over the cached size is read each time", async (t) => {
  const blobs = new Map([["big", new Uint8Array(CACHED_ARTIFACT_MAX_BYTES + 1)]]);
  const { store, reads } = countingStore(blobs);
  const cached = cachedBlobs(store);
  await cached.get("big");
  await cached.get("big");
  t.equal(reads(), 2);
});
