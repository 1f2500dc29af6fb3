/** Blobs in memory for the embedded MiniCluster and tests: same contract as the object store. */
import { type Clock, ErrorCode, NotFoundError, systemClock } from "../core/mod.ts";
import { requireString } from "./records.ts";
import { sha256Hex } from "./sha256.ts";
import type { BlobStore } from "./types.ts";

export function memoryBlobStore({ clock = systemClock }: { clock?: Clock } = {}): BlobStore {
  const blobs = new Map<string, { bytes: Uint8Array; modified: number }>();
  const putKey = async (key: string, bytes: Uint8Array): Promise<void> => {
    blobs.set(requireString(key, "blob key"), { bytes: bytes.slice(), modified: clock.now() });
  };
  return {
    location: "memory",
    async put(bytes) {
      const address = await sha256Hex(bytes);
      if (!blobs.has(address)) await putKey(address, bytes);
      return address;
    },
    putKey,
    async get(key) {
      const blob = blobs.get(requireString(key, "blob key"));
      if (!blob) throw new NotFoundError(ErrorCode.NOT_FOUND, `no blob ${key} in memory`);
      return blob.bytes.slice();
    },
    has: async (key) => blobs.has(requireString(key, "blob key")),
    async delete(prefix) {
      requireString(prefix, "blob key prefix");
      const doomed = [...blobs.keys()].filter((key) => key.startsWith(prefix));
      for (const key of doomed) blobs.delete(key);
      return doomed.length;
    },
    deleteKey: async (key) => blobs.delete(requireString(key, "blob key")),
    async list(prefix = "") {
      return [...blobs]
        .filter(([key]) => key.startsWith(prefix))
        .map(([key, { bytes, modified }]) => ({ key, size: bytes.byteLength, modified }));
    },
  };
}
