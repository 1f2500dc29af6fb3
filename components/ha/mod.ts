/**
 * Public API of components/ha: leader election with fencing tokens, and the job graph, job
 * result, completed-checkpoint and blob stores, each on JetStream (KV and Object Store) and in
 * memory behind the same interface.
 */
export { blobSnapshotStore } from "./blob_snapshot_store.ts";
export {
  type CheckpointStoreOptions,
  memoryCompletedCheckpointStore,
  natsCompletedCheckpointStore,
} from "./checkpoint_store.ts";
export { memoryJobGraphStore, natsJobGraphStore } from "./job_graph_store.ts";
export { memoryJobResultStore, natsJobResultStore } from "./job_result_store.ts";
export { memoryBlobStore } from "./memory_blob_store.ts";
export type { MemoryKvOptions } from "./memory_kv.ts";
export {
  type MemoryLeaderElectionOptions,
  MemoryLeaderRegistry,
  memoryLeaderElection,
  memoryLeaderRegistry,
} from "./memory_leader_election.ts";
export { type NatsBlobStoreOptions, natsBlobStore } from "./nats_blob_store.ts";
export type { NatsHaOptions } from "./nats_kv.ts";
export { type NatsLeaderElectionOptions, natsLeaderElection } from "./nats_leader_election.ts";
export {
  type MemoryHaServicesOptions,
  memoryHaServices,
  type NatsHaServicesOptions,
  natsHaServices,
} from "./services.ts";
export {
  type BlobInfo,
  type BlobStore,
  type CompletedCheckpointStore,
  type HaServices,
  type JobGraphStore,
  type JobResultEntry,
  JobResultState,
  type JobResultStore,
  type LeaderCallbacks,
  type LeaderElection,
  type LeaderElectionOptions,
  type LeaderFence,
  type LeaderInfo,
  type StopOptions,
  type SubmittedJob,
  type WriteOptions,
} from "./types.ts";
