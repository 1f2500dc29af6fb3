/**
 * Job-scope metrics of the JobManagers a process hosts (`flink_jobmanager_job_*{job_id,
 * job_name}`): restarts, uptime and checkpoint statistics, read from each JobManager at scrape
 * time. A job is tracked while its JobManager runs here; its series go when it is untracked.
 */
import { Gauge } from "prom-client";
import { FlinkScope, flinkMetricName, JOB_LABELS, labelValue } from "./names.ts";
import { processMetrics } from "./registry.ts";
import { TrackedSources } from "./snapshots.ts";

/** What a JobManager tells about its job; -1 where Flink reports -1 (nothing yet). */
export interface JobMetricsSnapshot {
  jobId: string;
  jobName: string;
  /** Milliseconds since the job last went RUNNING; 0 while it is not running (Flink's uptime). */
  uptimeMs: number;
  numRestarts: number;
  completedCheckpoints: number;
  failedCheckpoints: number;
  inProgressCheckpoints: number;
  /** ms; -1 before the first completed checkpoint. */
  lastCheckpointDurationMs: number;
  /** bytes; -1 before the first completed checkpoint. */
  lastCheckpointSizeBytes: number;
  /** epoch ms of the last restore from a checkpoint; -1 when never restored. */
  lastCheckpointRestoreTimestamp: number;
}

/** Jobs whose series one process serves (Dispatcher's default `dispatcher.max-running-jobs`). */
export const MAX_TRACKED_JOBS = 1000;

const JOB_GAUGES: readonly [string, string, (s: JobMetricsSnapshot) => number][] = [
  [
    "uptime",
    "Milliseconds since the job last went RUNNING (0 when not running).",
    (s) => s.uptimeMs,
  ],
  ["numRestarts", "Restarts of the job since it was submitted.", (s) => s.numRestarts],
  ["numberOfCompletedCheckpoints", "Checkpoints completed.", (s) => s.completedCheckpoints],
  ["numberOfFailedCheckpoints", "Checkpoints that failed.", (s) => s.failedCheckpoints],
  ["numberOfInProgressCheckpoints", "Checkpoints in progress.", (s) => s.inProgressCheckpoints],
  [
    "totalNumberOfCheckpoints",
    "Checkpoints triggered (completed, failed and in progress).",
    (s) => s.completedCheckpoints + s.failedCheckpoints + s.inProgressCheckpoints,
  ],
  [
    "lastCheckpointDuration",
    "Duration of the last completed checkpoint, ms (-1: none yet).",
    (s) => s.lastCheckpointDurationMs,
  ],
  [
    "lastCheckpointSize",
    "Size of the last completed checkpoint, bytes (-1: none yet).",
    (s) => s.lastCheckpointSizeBytes,
  ],
  [
    "lastCheckpointRestoreTimestamp",
    "When the job last restored from a checkpoint, epoch ms (-1: never).",
    (s) => s.lastCheckpointRestoreTimestamp,
  ],
];

/** A job's figures by Flink's metric id (`numRestarts`, `uptime`, ...), for the REST metric queries. */
export function jobMetricValues(snapshot: JobMetricsSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, , value] of JOB_GAUGES) out[name] = value(snapshot);
  return out;
}

let jobs: TrackedSources<JobMetricsSnapshot> | undefined;

function trackedJobs(): TrackedSources<JobMetricsSnapshot> {
  if (jobs) return jobs;
  const tracked = new TrackedSources<JobMetricsSnapshot>(MAX_TRACKED_JOBS);
  const metrics = processMetrics();
  for (const [name, help, value] of JOB_GAUGES) {
    const family = flinkMetricName(FlinkScope.JOB_MANAGER_JOB, name);
    new Gauge({
      name: family,
      help,
      labelNames: JOB_LABELS,
      registers: [metrics.registry],
      collect() {
        this.reset();
        const { rows, dropped } = tracked.rows({ perScrape: true });
        for (const s of rows)
          this.set({ job_id: s.jobId, job_name: labelValue(s.jobName) }, value(s));
        metrics.droppedSeries.set({ metric: family }, dropped);
      },
    });
  }
  jobs = tracked;
  return tracked;
}

/** Serves the job's metrics from `snapshot` until the returned function is called. */
export function trackJob(jobId: string, snapshot: () => JobMetricsSnapshot): () => void {
  return trackedJobs().track(jobId, () => [snapshot()]);
}

/** How many jobs this process tracks (its JobManagers that run). */
export function trackedJobCount(): number {
  return jobs?.size ?? 0;
}

/** The snapshots of the jobs this process tracks now (the metric query routes read them). */
export function jobSnapshots(): JobMetricsSnapshot[] {
  return trackedJobs().rows().rows;
}
