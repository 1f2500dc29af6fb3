/** The runtime side of components/dataflow, for the executor, the JobManager and TaskManagers. */
export type { CompiledJobOptions } from "./api/job_options.ts";
export {
  buildJobGraph,
  type JobEdge,
  type JobGraph,
  type JobPlan,
  type JobVertex,
  type SlotSharingGroupSpec,
} from "./graph/job_graph.ts";
export { Partitioning } from "./graph/nodes.ts";
export {
  type JobTopology,
  type TopologyEdge,
  type TopologyVertex,
  topologyAt,
  topologyOf,
} from "./graph/topology.ts";
export {
  type JobError,
  JobLifecycle,
  type JobLifecycleAction,
  type JobLifecycleActionKind,
  type JobLifecycleActionOf,
  type JobLifecycleOptions,
  type JobOutcome,
  type Parallelism,
  taskKey,
} from "./lifecycle/mod.ts";
export {
  artifactHash,
  bundleJob,
  isArtifact,
  loadArtifact,
  loadedArtifacts,
  MAX_LOADED_ARTIFACTS,
  privateDirectory,
} from "./runtime/artifact.ts";
export { counterIn, type TaskServices } from "./runtime/chain.ts";
export { CheckpointCoordinator, type CheckpointStatsListener } from "./runtime/coordinator.ts";
export {
  type ChannelFactory,
  connects,
  type DeployOptions,
  deployTask,
  localChannels,
  natsChannels,
} from "./runtime/deploy.ts";
export {
  type GraphWorkerReply,
  type GraphWorkerRequest,
  graphWorkerReply,
  runGraphWorker,
} from "./runtime/graph_worker.ts";
export {
  configureJobRuntime,
  type JobRuntimeSettings,
  jobRuntimeSettings,
} from "./runtime/job_runtime_settings.ts";
export {
  type JobHandle,
  type JobResult,
  type LocalJobStatus,
  type LocalRunOptions,
  loadSnapshots,
  runLocal,
} from "./runtime/local_executor.ts";
export { createPartitioner } from "./runtime/partitioner.ts";
export { RecordWriter } from "./runtime/record_writer.ts";
export { restartPolicy } from "./runtime/restart.ts";
export { CommittedResults } from "./runtime/results.ts";
export {
  type CompletedCheckpoint,
  fileSnapshotStore,
  loadCheckpoint,
  memorySnapshotStore,
  type SnapshotStore,
} from "./runtime/snapshot_store.ts";
export { Task, type TaskDeployment, type TaskSnapshot, TaskState } from "./runtime/task.ts";
export { keyGroupOf, keyGroupRange, subtaskForKeyGroup } from "./state/key_groups.ts";
export { type Frame, FrameKind } from "./types.ts";
