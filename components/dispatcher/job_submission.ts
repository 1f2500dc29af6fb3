/**
 * A submission made durable: the artifact read, the job's graph built once (so a bad job is a 400
 * now, not a failed job later), the savepoint to start from loaded, and the job's record stored.
 */
import { type Clock, ErrorCode, FlotillaError, newJobId } from "../core/mod.ts";
import {
  type CompletedCheckpoint,
  type JobTopology,
  loadCheckpoint,
} from "../dataflow/internal_mod.ts";
import type { SubmitJob } from "../protocol/mod.ts";
import type { GraphBuilder } from "./graph_builder.ts";
import type { DispatcherStores, JobRecord } from "./types.ts";

export interface PreparedJob {
  record: JobRecord;
  topology: JobTopology;
  restoreFrom?: CompletedCheckpoint;
}

export async function prepareJob(
  request: SubmitJob,
  {
    stores,
    buildGraph,
    clock,
  }: { stores: DispatcherStores; buildGraph: GraphBuilder; clock: Clock },
): Promise<PreparedJob> {
  const bytes = await stores.blobs.get(request.artifact);
  if (!bytes)
    throw new FlotillaError(
      ErrorCode.NOT_FOUND,
      `artifact ${request.artifact} is not in the blob store: upload it with POST /artifacts first`,
    );
  const topology = await buildGraph({
    artifact: request.artifact,
    bytes,
    args: request.args,
    ...(request.parallelism ? { parallelism: request.parallelism } : {}),
    ...(request.secrets ? { secrets: request.secrets } : {}),
  });
  const restoreFrom = request.savepoint
    ? await loadCheckpoint(stores.snapshots, request.savepoint)
    : undefined;
  const jobId = newJobId();
  const record: JobRecord = {
    jobId,
    name: topology.options.name,
    artifact: request.artifact,
    args: request.args,
    ...(request.parallelism ? { parallelism: request.parallelism } : {}),
    ...(request.savepoint ? { savepoint: request.savepoint } : {}),
    ...(request.secrets ? { secrets: request.secrets } : {}),
    submittedAt: clock.now(),
  };
  await stores.jobs.put(record);
  if (restoreFrom) await stores.checkpoints.add({ ...restoreFrom, jobId });
  return { record, topology, ...(restoreFrom ? { restoreFrom } : {}) };
}
