/** What the Dispatcher answers about a job it runs no JobManager for: unknown, expired, or ended. */
import { ErrorCode, FlotillaError, parseJobId } from "../core/mod.ts";
import type { JobDetails, VertexDetails } from "../protocol/mod.ts";
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

export function endedDetails(result: JobResultRecord, vertices: VertexDetails[] = []): JobDetails {
  return {
    jobId: parseJobId(result.jobId),
    name: result.name,
    state: result.state,
    submittedAt: result.submittedAt,
    restarts: result.restarts,
    rescales: result.rescales ?? 0,
    checkpoints: result.checkpoints,
    vertices,
    finishedAt: result.finishedAt,
    ...(result.error ? { error: result.error } : {}),
    ...(result.savepoint ? { savepoint: result.savepoint } : {}),
  };
}
