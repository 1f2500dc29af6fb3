/**
 * The runtime's SnapshotStore on a BlobStore, so checkpoints and savepoints live in the object
 * store. Prefixes are directories, as in the file store: deleting `checkpoints/j/3` leaves
 * `checkpoints/j/30/...` alone.
 */
import { ErrorCode, FlotillaError } from "../core/mod.ts";
import type { SnapshotStore } from "../dataflow/internal_mod.ts";
import type { BlobStore } from "./types.ts";

export function blobSnapshotStore(blobs: BlobStore): SnapshotStore {
  return {
    location: blobs.location,
    put: (key, bytes) => blobs.putKey(key, bytes),
    async get(key) {
      try {
        return await blobs.get(key);
      } catch (err) {
        if (err instanceof FlotillaError && err.code === ErrorCode.NOT_FOUND) return undefined;
        throw err;
      }
    },
    async deletePrefix(prefix) {
      await blobs.delete(`${prefix.replace(/\/+$/, "")}/`);
    },
    async deleteKeys(keys) {
      for (const key of keys) await blobs.deleteKey(key);
    },
  };
}
