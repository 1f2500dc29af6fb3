/**
 * What each route of the Dispatcher's REST API answers, for its reference in the README
 * (`npm run docs:api`): whose route it is (Flink's or flotilla's), the body's name and, where a
 * schema describes it, its fields. A unit test fails when a route of `dispatcherRoutes` has no
 * entry here, or the README's table is stale.
 */
import { z } from "zod";
import { asynchronousOperationResultSchema, triggerResponseSchema } from "./flink_async.ts";
import {
  clusterConfigurationInfoSchema,
  clusterOverviewWithVersionSchema,
  dashboardConfigurationSchema,
  flinkTaskManagerDetailsInfoSchema,
  flinkTaskManagersInfoSchema,
} from "./flink_cluster.ts";
import {
  jobConfigInfoSchema,
  jobDetailsInfoSchema,
  jobIdsWithStatusOverviewSchema,
  jobPlanInfoSchema,
  multipleJobsDetailsSchema,
} from "./flink_jobs.ts";
import {
  jobVertexBackPressureInfoSchema,
  jobVertexDetailsInfoSchema,
  watermarksInfoSchema,
} from "./flink_vertices.ts";
import {
  checkpointConfigInfoSchema,
  checkpointingStatisticsSchema,
  checkpointStatisticsSchema,
  jobExceptionsSchema,
  taskCheckpointWithSubtasksSchema,
} from "./job_history.ts";

export interface RouteDoc {
  /** Flink's route (its path, fields and status codes) or flotilla's own. */
  origin: "Flink" | "flotilla";
  /** The answer's name (Flink's class name for Flink's bodies). */
  answers: string;
  /** The answer's schema, when one describes it (the README lists its fields). */
  schema?: z.ZodType;
  /** What it does, in a few words. */
  doc: string;
}

const flink = (answers: string, doc: string, schema?: z.ZodType): RouteDoc => ({
  origin: "Flink",
  answers,
  doc,
  ...(schema ? { schema } : {}),
});
const own = (answers: string, doc: string): RouteDoc => ({ origin: "flotilla", answers, doc });

/** Every route, by `METHOD path` as `dispatcherRoutes` declares it (each is also under `/v1`). */
export const DISPATCHER_API: Readonly<Record<string, RouteDoc>> = {
  "GET /healthz": own("`{ok}`", "liveness; needs no token"),
  "GET /config": flink(
    "DashboardConfiguration",
    "dashboard settings",
    dashboardConfigurationSchema,
  ),
  "GET /overview": flink(
    "ClusterOverviewWithVersion",
    "the cluster at a glance",
    clusterOverviewWithVersionSchema,
  ),
  "GET /jobmanager/config": flink(
    "ClusterConfigurationInfo",
    "the cluster's settings, secrets left out",
    clusterConfigurationInfoSchema,
  ),
  "GET /taskmanagers": flink("TaskManagersInfo", "every TaskManager", flinkTaskManagersInfoSchema),
  "GET /taskmanagers/:taskmanagerid": flink(
    "TaskManagerDetailsInfo",
    "one TaskManager",
    flinkTaskManagerDetailsInfoSchema,
  ),
  "POST /artifacts": own("`{artifact, size, created}`", "upload a bundled job (raw body)"),
  "GET /artifacts/:artifact": own("`{artifact}`", "whether the cluster has an artifact"),
  "GET /jobs": flink(
    "JobIdsWithStatusOverview",
    "jobs, newest first; `?limit=&after=` pages (flotilla's `next`)",
    jobIdsWithStatusOverviewSchema,
  ),
  "GET /jobs/overview": flink("MultipleJobsDetails", "every kept job", multipleJobsDetailsSchema),
  "POST /jobs": own(
    "`{jobId}` (202)",
    "submit `{artifact, args, parallelism?, savepoint?, secrets?}`",
  ),
  "GET /jobs/:jobid": flink("JobDetailsInfo", "one job", jobDetailsInfoSchema),
  "PATCH /jobs/:jobid": flink("`{}` (202)", "cancel; `?mode=cancel|stop` optional"),
  "GET /jobs/:jobid/plan": flink("JobPlanInfo", "the job's dataflow", jobPlanInfoSchema),
  "GET /jobs/:jobid/config": flink("JobConfigInfo", "the job's settings", jobConfigInfoSchema),
  "GET /jobs/:jobid/results": own("`{<sinkId>: [values]}`", "what `collect` sinks committed"),
  "GET /jobs/:jobid/checkpoints": flink(
    "CheckpointingStatistics",
    "counts, summary, latest, history",
    checkpointingStatisticsSchema,
  ),
  "GET /jobs/:jobid/checkpoints/config": flink(
    "CheckpointConfigInfo",
    "checkpointing settings (404 without)",
    checkpointConfigInfoSchema,
  ),
  "GET /jobs/:jobid/checkpoints/details/:checkpointid": flink(
    "CheckpointStatistics",
    "one checkpoint, per vertex",
    checkpointStatisticsSchema,
  ),
  "GET /jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid": flink(
    "TaskCheckpointStatisticsWithSubtaskDetails",
    "one vertex of a checkpoint, per subtask",
    taskCheckpointWithSubtasksSchema,
  ),
  "GET /jobs/:jobid/exceptions": flink(
    "JobExceptionsInfoWithHistory",
    "failures, newest first; `?maxExceptions=`",
    jobExceptionsSchema,
  ),
  "GET /jobs/:jobid/vertices/:vertexid": flink(
    "JobVertexDetailsInfo",
    "one vertex (hex or flotilla id)",
    jobVertexDetailsInfoSchema,
  ),
  "GET /jobs/:jobid/vertices/:vertexid/watermarks": flink(
    "MetricCollectionResponseBody",
    "each subtask's input watermark",
    watermarksInfoSchema,
  ),
  "GET /jobs/:jobid/vertices/:vertexid/backpressure": flink(
    "JobVertexBackPressureInfo",
    "back-pressured, idle and busy shares",
    jobVertexBackPressureInfoSchema,
  ),
  "POST /jobs/:jobid/savepoints": flink(
    "TriggerResponse (202)",
    "trigger a savepoint: `{target-directory?, cancel-job?, triggerId?, formatType?}`",
    triggerResponseSchema,
  ),
  "GET /jobs/:jobid/savepoints/:triggerid": flink(
    "AsynchronousOperationResult",
    "a savepoint's or stop's status",
    asynchronousOperationResultSchema,
  ),
  "POST /jobs/:jobid/stop": flink(
    "TriggerResponse (202)",
    "stop with a savepoint: `{targetDirectory?, drain?, triggerId?, formatType?}`",
    triggerResponseSchema,
  ),
  "GET /jobs/:jobid/resource-requirements": flink(
    "JobResourceRequirementsBody",
    "each vertex's parallelism bounds",
  ),
  "PUT /jobs/:jobid/resource-requirements": flink(
    "JobResourceRequirementsBody",
    "rescale an adaptive job",
  ),
  "GET /jobmanager/metrics": flink("MetricCollectionResponseBody", "`?get=`"),
  "GET /taskmanagers/metrics": flink("AggregatedMetricsResponseBody", "`?get=&agg=&taskmanagers=`"),
  "GET /taskmanagers/:taskmanagerid/metrics": flink("MetricCollectionResponseBody", "`?get=`"),
  "GET /jobs/:jobid/metrics": flink("MetricCollectionResponseBody", "`?get=`"),
  "GET /jobs/:jobid/vertices/:vertexid/metrics": flink("MetricCollectionResponseBody", "`?get=`"),
  "GET /jobs/:jobid/vertices/:vertexid/subtasks/metrics": flink(
    "AggregatedMetricsResponseBody",
    "`?get=&agg=&subtasks=`",
  ),
  "GET /metrics": own("Prometheus text", "this process's metrics"),
};

/** The schema's own shape, past optional, nullable and pipes. */
function inner(schema: z.ZodType): z.ZodType {
  let at: z.ZodType = schema;
  for (;;) {
    if (at instanceof z.ZodOptional || at instanceof z.ZodNullable) at = at.unwrap() as z.ZodType;
    else if (at instanceof z.ZodPipe) at = at.in as z.ZodType;
    else return at;
  }
}

/** A body's fields, one level deep (nested objects and arrays by their keys too, briefly). */
export function fieldsOf(schema: z.ZodType, depth = 0): string {
  const at = inner(schema);
  if (at instanceof z.ZodObject) {
    const keys = Object.entries(at.shape as Record<string, z.ZodType>).map(([key, value]) => {
      const nested = inner(value);
      const more =
        depth === 0 && (nested instanceof z.ZodObject || nested instanceof z.ZodArray)
          ? fieldsOf(value, depth + 1)
          : "";
      return more && more.length <= 80 ? `${key} ${more}` : key;
    });
    return `{${keys.join(", ")}}`;
  }
  if (at instanceof z.ZodArray) return `[${fieldsOf(at.element as z.ZodType, depth)}]`;
  if (at instanceof z.ZodUnion) {
    const options = (at.options as z.ZodType[]).map(inner);
    // Alternatives of one body (a checkpoint's kinds, an operation in progress or done): their
    // fields once, in order of appearance.
    if (options.every((o) => o instanceof z.ZodObject)) {
      const shape: Record<string, z.ZodType> = {};
      for (const o of options as z.ZodObject[]) Object.assign(shape, o.shape);
      return fieldsOf(z.object(shape), depth);
    }
    return options.map((o) => fieldsOf(o, depth)).join(" or ");
  }
  return "";
}

/** The README's API reference: one row per route. */
export function dispatcherApiTable(): string {
  const cell = (text: string) => text.replaceAll("|", "\\|");
  const rows = Object.entries(DISPATCHER_API).map(([route, d]) => {
    const fields = d.schema ? `\`${fieldsOf(d.schema)}\`` : "";
    return `| \`${route}\` | ${d.origin} | ${cell(d.answers)} | ${cell(d.doc)} | ${cell(fields)} |`;
  });
  return ["| route | whose | answers | what | fields |", "|---|---|---|---|---|", ...rows].join(
    "\n",
  );
}
