/**
 * Flink's metric names as its Prometheus reporter spells them: `flink_<scope>_<name>`, the scope's
 * variables (`<job_id>`, `<tm_id>`, ...) as labels, every character Prometheus refuses as `_`.
 */

/** The scopes flotilla's blocks report under (Flink's logical scopes, `.` as `_`). */
export const FlinkScope = {
  /** The master process: Dispatcher, ResourceManager and the JobManagers it hosts. */
  JOB_MANAGER: "jobmanager",
  JOB_MANAGER_JOB: "jobmanager_job",
  TASK_MANAGER: "taskmanager",
  TASK_MANAGER_TASK: "taskmanager_job_task",
} as const;
export type FlinkScope = (typeof FlinkScope)[keyof typeof FlinkScope];

const INVALID = /[^a-zA-Z0-9_:]/g;

/** `flink_<scope>_<name>` with `Status.JVM.CPU.Load` becoming `Status_JVM_CPU_Load`. */
export function flinkMetricName(scope: FlinkScope, name: string): string {
  return `flink_${scope}_${name}`.replace(INVALID, "_");
}

/** The labels of a task-scope series, as Flink's reporter names the scope variables. */
export const TASK_LABELS = [
  "tm_id",
  "job_id",
  "job_name",
  "task_id",
  "task_name",
  "subtask_index",
  "task_attempt_num",
] as const;

/** The labels of a job-scope series on the JobManager. */
export const JOB_LABELS = ["job_id", "job_name"] as const;

/**
 * Flink's value for a watermark not seen yet (Long.MIN_VALUE), so dashboards that test for it
 * work unchanged (-2^63 exactly as a double; Prometheus prints -9.223372036854776e+18).
 */
export const NO_WATERMARK = -(2 ** 63);

/** Label values are bounded: a job name longer than this is cut (it is a label, not the name). */
export const MAX_LABEL_VALUE = 128;

export function labelValue(text: string): string {
  return text.length > MAX_LABEL_VALUE ? text.slice(0, MAX_LABEL_VALUE) : text;
}
