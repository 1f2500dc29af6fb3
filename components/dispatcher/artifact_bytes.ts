/**
 * The bytes of the artifacts the Dispatcher used last, so a job submitted again, or a flood of
 * submissions of one artifact, does not read the blob store (two JetStream calls) each time.
 * Artifacts are content-addressed, so a cached one is never stale; small ones only, a bounded
 * number, and one removed from the store leaves the cache with it.
 */
import { LruCache } from "../core/mod.ts";
import type { DispatcherStores } from "./types.ts";

type Blobs = DispatcherStores["blobs"];

/** Larger artifacts are read from the store each time (16 of these at most in memory). */
export const CACHED_ARTIFACT_MAX_BYTES = 1024 * 1024;

export function cachedBlobs(blobs: Blobs, entries = 16): Blobs {
  const cache = new LruCache<string, Uint8Array>(entries);
  // One read per key at a time: a burst of submissions of one artifact (a flood's first
  // moment) is one object-store read, not one per submission (each a JetStream consumer).
  const reading = new Map<string, Promise<Uint8Array | undefined>>();
  const read = (key: string) => {
    let pending = reading.get(key);
    if (!pending) {
      pending = blobs.get(key).finally(() => reading.delete(key));
      reading.set(key, pending);
    }
    return pending;
  };
  return {
    put: (bytes) => blobs.put(bytes),
    has: (key) => (cache.has(key) ? Promise.resolve(true) : blobs.has(key)),
    list: (prefix) => blobs.list(prefix),
    async get(key) {
      const hit = cache.get(key);
      if (hit) return hit;
      const bytes = await read(key);
      if (bytes && bytes.byteLength <= CACHED_ARTIFACT_MAX_BYTES) cache.set(key, bytes);
      return bytes;
    },
    async remove(key) {
      cache.delete(key);
      await blobs.remove(key);
    },
  };
}
