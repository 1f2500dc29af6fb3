/**
 * The HA services of one cluster on one backend: JetStream (one KV bucket and one object store
 * per cluster) for real clusters, memory for the embedded MiniCluster.
 */
import type { Logger } from "../core/mod.ts";
import { kvCompletedCheckpointStore } from "./checkpoint_store.ts";
import { kvJobGraphStore } from "./job_graph_store.ts";
import { kvJobResultStore } from "./job_result_store.ts";
import { LeaseElection } from "./lease_election.ts";
import { memoryBlobStore } from "./memory_blob_store.ts";
import { type MemoryLeaderRegistry, memoryLeaderRegistry } from "./memory_leader_election.ts";
import { natsBlobStore } from "./nats_blob_store.ts";
import { type NatsHaOptions, openNatsKv } from "./nats_kv.ts";
import type { HaServices } from "./types.ts";

export interface NatsHaServicesOptions extends NatsHaOptions {
  /** Completed checkpoints kept per job. @default 3 */
  retainedCheckpoints?: number;
  /** Deadline of one blob call (artifacts can be large). @default 30000 */
  blobTimeoutMs?: number;
}

export async function natsHaServices(options: NatsHaServicesOptions): Promise<HaServices> {
  const { nc, clusterId, retainedCheckpoints = 3, blobTimeoutMs = 30_000, log } = options;
  const kv = await openNatsKv(options);
  const blobs = await natsBlobStore({ nc, clusterId, timeoutMs: blobTimeoutMs });
  return {
    jobGraphs: kvJobGraphStore(kv),
    jobResults: kvJobResultStore(kv),
    checkpoints: kvCompletedCheckpointStore(kv, { retained: retainedCheckpoints }),
    blobs,
    election: (o) => new LeaseElection(kv, withLog(o, log)),
  };
}

export interface MemoryHaServicesOptions {
  /** Share one to let elections of several services objects race. @default a new one */
  registry?: MemoryLeaderRegistry;
  /** Completed checkpoints kept per job. @default 3 */
  retainedCheckpoints?: number;
  log?: Logger;
}

export function memoryHaServices({
  registry = memoryLeaderRegistry(),
  retainedCheckpoints = 3,
  log,
}: MemoryHaServicesOptions = {}): HaServices {
  const { kv } = registry;
  return {
    jobGraphs: kvJobGraphStore(kv),
    jobResults: kvJobResultStore(kv),
    checkpoints: kvCompletedCheckpointStore(kv, { retained: retainedCheckpoints }),
    blobs: memoryBlobStore(),
    election: (o) => new LeaseElection(kv, withLog(o, log)),
  };
}

function withLog<T extends { log?: Logger }>(options: T, log: Logger | undefined): T {
  return options.log || !log ? options : { ...options, log };
}
