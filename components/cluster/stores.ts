/** The Dispatcher's stores on top of the HA services (JetStream or memory). */
import type { DispatcherStores, JobResultRecord } from "../dispatcher/mod.ts";
import { blobSnapshotStore, type HaServices } from "../ha/mod.ts";

export function dispatcherStores(ha: HaServices): DispatcherStores {
  return {
    blobs: {
      put: (bytes) => ha.blobs.put(bytes),
      get: async (key) => ((await ha.blobs.has(key)) ? await ha.blobs.get(key) : undefined),
      has: (key) => ha.blobs.has(key),
      list: (prefix) => ha.blobs.list(prefix),
      // The exact key, without listing the store (a prefix delete lists every blob first).
      remove: async (key) => {
        await ha.blobs.deleteKey(key);
      },
    },
    jobs: {
      put: (record) => ha.jobGraphs.put(record),
      list: () => ha.jobGraphs.list(),
      remove: (jobId) => ha.jobGraphs.remove(jobId),
    },
    results: {
      // The HA store keeps any extra fields of a result; the Dispatcher writes all of them.
      put: (result) => ha.jobResults.put({ ...result }),
      get: async (jobId) =>
        (await ha.jobResults.find(jobId)) as unknown as JobResultRecord | undefined,
      list: async () => (await ha.jobResults.list()) as unknown as JobResultRecord[],
      remove: (jobId) => ha.jobResults.remove(jobId),
    },
    checkpoints: ha.checkpoints,
    snapshots: blobSnapshotStore(ha.blobs),
  };
}
