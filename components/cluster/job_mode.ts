/**
 * Job mode (`flotilla start jobmanager`): a cluster dedicated to one job. The job module is part
 * of the cluster (mounted or baked into the image), so there is no upload and no Dispatcher: this
 * process runs the ResourceManager and the job's JobManager, TaskManagers join over NATS, and the
 * process ends with the job: exit code 0 finished, 1 failed, 2 canceled.
 */
import { readFile } from "node:fs/promises";
import {
  type Config,
  ErrorCode,
  FlotillaError,
  type JobEnd,
  JobState,
  type Logger,
  newJobId,
} from "../core/mod.ts";
import { bundleJob, isArtifact, topologyAt } from "../dataflow/internal_mod.ts";
import { type GraphBuilder, trackJobMaster } from "../dispatcher/mod.ts";
import { blobSnapshotStore, type HaServices } from "../ha/mod.ts";
import {
  createJobMaster,
  jobHistoryBoundsFrom,
  jobManagerApp,
  jobManagerDeadlinesFrom,
  schedulerOptionsFrom,
} from "../jobmanager/mod.ts";
import type { JobOutcome } from "../protocol/mod.ts";
import type { Fabric } from "./fabric.ts";

export const EXIT_CODES = {
  [JobState.FINISHED]: 0,
  [JobState.FAILED]: 1,
  [JobState.CANCELED]: 2,
} as const satisfies Record<JobEnd, number>;

export function parseJobArgs(text: string): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of text.split(",").filter(Boolean)) {
    const at = pair.indexOf("=");
    args[pair.slice(0, at).trim()] = pair.slice(at + 1);
  }
  return args;
}

export async function runJobMode({
  config,
  log,
  ha,
  fabric,
  clusterId,
  buildGraph,
}: {
  config: Config;
  log: Logger;
  /** Builds the job's graph where its code cannot reach this process (the graph sandbox). */
  buildGraph: GraphBuilder;
  ha: HaServices;
  fabric: Fabric;
  clusterId: string;
}): Promise<{ outcome: Promise<JobOutcome>; cancel(): Promise<JobOutcome> }> {
  const file = config["job.file"];
  if (!file) {
    throw new FlotillaError(
      ErrorCode.INVALID_CONFIG,
      "job mode needs the job: set job.file (FLOTILLA_JOB_FILE) to the job module's path",
    );
  }
  // A bundled artifact (`flotilla bundle`) loads as it is: container images carry no bundler.
  const raw = /\.m?js$/.test(file) ? new Uint8Array(await readFile(file)) : undefined;
  const bytes = raw && isArtifact(raw) ? raw : await bundleJob(file);
  const artifact = await ha.blobs.put(bytes);
  const args = parseJobArgs(config["job.args"]);
  const parallelism = config["job.parallelism"] || undefined;
  const graph = await buildGraph({
    artifact,
    bytes,
    args,
    ...(parallelism ? { parallelism } : {}),
  });
  const jobId = newJobId();
  const jm = createJobMaster({
    clusterId,
    jobId,
    graph,
    artifact,
    args,
    ...(parallelism ? { parallelism } : {}),
    transportFor: fabric.transportFor,
    snapshots: blobSnapshotStore(ha.blobs),
    onCheckpoint: (cp) => ha.checkpoints.add(cp),
    slotRequestTimeoutMs: config["slot.request.timeout"],
    ...jobManagerDeadlinesFrom(config),
    rebuild: (vertexParallelism) => topologyAt(graph, vertexParallelism),
    scheduler: schedulerOptionsFrom(config),
    history: jobHistoryBoundsFrom(config),
    log,
  });
  fabric.serve(jm.subject, jobManagerApp(jm));
  trackJobMaster(jobId, () => jm.info(), {
    checkpoints: () => jm.checkpoints(),
    ended: jm.outcome,
  });
  log.info({ job: jobId, name: graph.options.name, file }, "job mode: starting the job");
  // The ResourceManager may still be electing itself: the JobManager declares until it answers.
  void jm.start();
  return { outcome: jm.outcome, cancel: () => jm.cancel() };
}
