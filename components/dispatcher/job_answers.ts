/**
 * What the Dispatcher answers about a job: a running job's view from its JobManager's status, an
 * ended job's from its result and what it left, and the errors for a job unknown or expired.
 */
import { ErrorCode, FlotillaError, parseJobId } from "../core/mod.ts";
import type { JobHistoryArchive, JobStatus } from "../protocol/mod.ts";
import type { EndedLeftovers } from "./ended_jobs.ts";
import type { JobView } from "./flink_job_views.ts";
import type { JobManagerRun } from "./job_managers.ts";
import type { JobResultRecord } from "./types.ts";

export function unknownJob(jobId: string): FlotillaError {
  return new FlotillaError(
    ErrorCode.JOB_NOT_FOUND,
    `no job ${jobId}: 'flotilla list' shows the jobs this cluster knows`,
  );
}

/** A job that ended and was then forgotten by the jobstore's bounds. */
export function expiredJob(
  jobId: string,
  maxCapacity: number,
  expirationMs: number,
): FlotillaError {
  return new FlotillaError(
    ErrorCode.JOB_NOT_FOUND,
    `job ${jobId} ended and was expired from the jobstore (it keeps ${maxCapacity} ended jobs for ${expirationMs} ms: jobstore.max-capacity, jobstore.expiration-time)`,
  );
}

/** A running job: its JobManager's status now. */
export function liveView(run: JobManagerRun, status: JobStatus): JobView {
  return {
    jobId: parseJobId(run.record.jobId),
    name: status.name,
    state: status.state,
    submittedAt: run.record.submittedAt,
    timestamps: status.timestamps,
    vertices: status.vertices,
    topology: run.topology,
    args: run.record.args,
    extras: {
      restarts: status.restarts,
      rescales: status.rescales,
      checkpoints: status.checkpoints,
      attempt: status.attempt,
      scheduler: status.scheduler,
      ...(status.parallelismBounds ? { parallelismBounds: status.parallelismBounds } : {}),
      ...(status.lastCheckpoint ? { lastCheckpoint: status.lastCheckpoint } : {}),
      ...(status.waitingFor ? { waitingFor: status.waitingFor } : {}),
      ...(status.error ? { error: status.error } : {}),
    },
  };
}

/** A job not started yet (its JobManager is being created): what its record says. */
export function startingView(run: Pick<JobManagerRun, "record">): JobView {
  return {
    jobId: parseJobId(run.record.jobId),
    name: run.record.name,
    state: "CREATED",
    submittedAt: run.record.submittedAt,
    vertices: [],
    args: run.record.args,
    extras: { restarts: 0, rescales: 0, checkpoints: 0 },
  };
}

/**
 * An ended job: its result record, what it left while the jobstore keeps that, and the history
 * archive its JobManager recorded (state times, vertices: what survives a failover).
 */
export function endedView(
  result: JobResultRecord,
  leftovers?: EndedLeftovers,
  archive?: JobHistoryArchive,
): JobView {
  return {
    jobId: parseJobId(result.jobId),
    name: result.name,
    state: result.state,
    submittedAt: result.submittedAt,
    finishedAt: result.finishedAt,
    vertices: leftovers?.vertices ?? archive?.vertices ?? [],
    ...(archive ? { timestamps: archive.timestamps } : {}),
    ...(leftovers?.topology ? { topology: leftovers.topology } : {}),
    ...(leftovers?.args ? { args: leftovers.args } : {}),
    extras: {
      restarts: result.restarts,
      rescales: result.rescales ?? 0,
      checkpoints: result.checkpoints,
      ...(result.error ? { error: result.error } : {}),
      ...(result.savepoint ? { savepoint: result.savepoint } : {}),
    },
  };
}
