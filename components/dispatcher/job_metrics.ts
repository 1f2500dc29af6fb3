/**
 * A JobManager's job on the process's /metrics (`flink_jobmanager_job_*`): its status read at
 * scrape time and turned into Flink's job-scope figures, from its start until it ends.
 */
import { JobState } from "../core/mod.ts";
import { type JobMetricsSnapshot, trackJob } from "../metrics/mod.ts";
import type { JobStatus } from "../protocol/mod.ts";

/** What the job's JobManager answers (`JobMaster.info()`). */
export type JobStatusSource = () => JobStatus;

/** The JobManagers tracked in this process, by job (as many as `trackJob` serves, no more). */
const statuses = new Map<string, JobStatusSource>();

/** The status of the job whose JobManager runs in this process; undefined when none does. */
export function jobStatusHere(jobId: string): JobStatus | undefined {
  return statuses.get(jobId)?.();
}

/**
 * Serves the job's metrics until the returned function is called (at the latest when `ended`
 * settles: an ended job's series go). Uptime counts from when a scrape first saw it RUNNING in
 * this attempt, until the JobManager keeps its state timestamps.
 */
export function trackJobMaster(
  jobId: string,
  info: JobStatusSource,
  { ended, now = Date.now }: { ended?: Promise<unknown>; now?: () => number } = {},
): () => void {
  let runningSince: { attempt: number; at: number } | undefined;
  const untrack = trackJob(jobId, () => {
    const status = info();
    if (status.state !== JobState.RUNNING) runningSince = undefined;
    else if (runningSince?.attempt !== status.attempt)
      runningSince = { attempt: status.attempt, at: now() };
    return jobMetricsOf(status, runningSince ? now() - runningSince.at : 0);
  });
  statuses.set(jobId, info);
  const forget = () => {
    untrack();
    if (statuses.get(jobId) === info) statuses.delete(jobId);
  };
  void ended?.finally(forget);
  return forget;
}

export function jobMetricsOf(status: JobStatus, uptimeMs: number): JobMetricsSnapshot {
  return {
    jobId: status.jobId,
    jobName: status.name,
    uptimeMs,
    numRestarts: status.restarts,
    completedCheckpoints: status.checkpoints,
    failedCheckpoints: 0,
    inProgressCheckpoints: 0,
    lastCheckpointDurationMs: -1,
    lastCheckpointSizeBytes: -1,
    lastCheckpointRestoreTimestamp: -1,
  };
}
