/**
 * A JobManager's job on the process's /metrics (`flink_jobmanager_job_*`): its status and its
 * checkpoint statistics read at scrape time and turned into Flink's job-scope figures, from its
 * start until it ends.
 */
import { JobState } from "../core/mod.ts";
import { type JobMetricsSnapshot, trackJob } from "../metrics/mod.ts";
import type { CheckpointingStatistics, JobStatus } from "../protocol/mod.ts";

/** What the job's JobManager answers (`JobMaster.info()`). */
export type JobStatusSource = () => JobStatus;

/** The JobManagers tracked in this process, by job (as many as `trackJob` serves, no more). */
const statuses = new Map<string, JobStatusSource>();

/** The status of the job whose JobManager runs in this process; undefined when none does. */
export function jobStatusHere(jobId: string): JobStatus | undefined {
  return statuses.get(jobId)?.();
}

export interface TrackJobMasterOptions {
  /** The JobManager's checkpoint statistics (`JobMaster.checkpoints()`). */
  checkpoints?: () => CheckpointingStatistics;
  /** Its series go when this settles (the job's outcome). */
  ended?: Promise<unknown>;
  now?: () => number;
}

/** Serves the job's metrics until the returned function is called (at the latest when `ended` settles). */
export function trackJobMaster(
  jobId: string,
  info: JobStatusSource,
  { checkpoints, ended, now = Date.now }: TrackJobMasterOptions = {},
): () => void {
  const untrack = trackJob(jobId, () => jobMetricsOf(info(), checkpoints?.(), now()));
  statuses.set(jobId, info);
  const forget = () => {
    untrack();
    if (statuses.get(jobId) === info) statuses.delete(jobId);
  };
  void ended?.finally(forget);
  return forget;
}

/**
 * Flink's job figures: uptime since it last went RUNNING (0 when not running), restarts, and
 * from the checkpoint statistics the counts and the latest completed one (-1 where none yet,
 * as Flink's gauges); without statistics, the completed count the status carries.
 */
export function jobMetricsOf(
  status: JobStatus,
  stats: CheckpointingStatistics | undefined,
  now: number,
): JobMetricsSnapshot {
  const runningSince = status.timestamps?.[JobState.RUNNING] ?? 0;
  const latest = stats?.latest.completed;
  return {
    jobId: status.jobId,
    jobName: status.name,
    uptimeMs: status.state === JobState.RUNNING && runningSince > 0 ? now - runningSince : 0,
    numRestarts: status.restarts,
    completedCheckpoints: stats?.counts.completed ?? status.checkpoints,
    failedCheckpoints: stats?.counts.failed ?? 0,
    inProgressCheckpoints: stats?.counts.in_progress ?? 0,
    lastCheckpointDurationMs: latest?.end_to_end_duration ?? -1,
    lastCheckpointSizeBytes: latest?.checkpointed_size ?? -1,
    lastCheckpointRestoreTimestamp: stats?.latest.restored?.restore_timestamp ?? -1,
  };
}
