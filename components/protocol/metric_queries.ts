/**
 * Flink's metric query routes (`/jobmanager/metrics`, `/taskmanagers/metrics`,
 * `/taskmanagers/:taskmanagerid/metrics`, `/jobs/:jobid/metrics`,
 * `/jobs/:jobid/vertices/:vertexid/metrics` and `.../subtasks/metrics`): `get` picks metrics by
 * id, `agg` aggregates across TaskManagers or subtasks. The Dispatcher mounts them with
 * `.route("/", metricQueryRoutes(h))`; the bodies are Flink's MetricCollectionResponseBody and
 * AggregatedMetricsResponseBody, values as strings as Flink sends them.
 */
import { z } from "zod";
import { createBlock, params, query, reply } from "../rpc/mod.ts";
import { type Answer, jobIdSchema, taskManagerIdSchema, vertexIdSchema } from "./common.ts";

/** Most metric ids one `get` may name (Flink sets none; a query is a bounded input here). */
export const MAX_METRIC_IDS = 64;
/** Most TaskManagers or subtasks one aggregation may name. */
export const MAX_SELECTED = 1024;

const metricId = z.string().min(1).max(256);

/** A comma list of at most `max` items, each checked by `item`. */
const commaList = <O>(item: z.ZodType<O, string>, max: number, what: string) =>
  z
    .string()
    .max(max * 300)
    .transform((text) =>
      text
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .refine((items) => items.length <= max, `at most ${max} ${what}`)
    .pipe(z.array(item));

export const AGGREGATIONS = ["min", "max", "avg", "sum", "skew"] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** `?get=a,b`: the metrics to answer; without it, the ids there are (no values). */
export const metricsQuerySchema = z.strictObject({
  get: commaList(metricId, MAX_METRIC_IDS, "metric ids in get").optional(),
});
export type MetricsQuery = z.output<typeof metricsQuerySchema>;

const aggregations = commaList(
  z.enum(AGGREGATIONS, { message: `agg takes ${AGGREGATIONS.join(", ")}` }),
  AGGREGATIONS.length,
  "aggregations in agg",
);

/** `0,2,4-6`: subtask indexes (Flink's `subtasks` parameter). */
const subtaskRanges = z
  .string()
  .max(4096)
  .transform((text, ctx) => {
    const out = new Set<number>();
    for (const part of text
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)) {
      const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(part);
      const from = m ? Number(m[1]) : Number.NaN;
      const to = m?.[2] !== undefined ? Number(m[2]) : from;
      if (!m || to < from || to - from >= MAX_SELECTED || out.size + (to - from) >= MAX_SELECTED) {
        ctx.addIssue({
          code: "custom",
          message: `subtasks: ${JSON.stringify(part)} is not an index or range like 0,2,4-6 (at most ${MAX_SELECTED} subtasks)`,
        });
        return z.NEVER;
      }
      for (let i = from; i <= to; i++) out.add(i);
    }
    return [...out];
  });

export const aggregatedQuerySchema = z.strictObject({
  get: commaList(metricId, MAX_METRIC_IDS, "metric ids in get").optional(),
  agg: aggregations.optional(),
});

export const subtasksQuerySchema = aggregatedQuerySchema.extend({
  subtasks: subtaskRanges.optional(),
});
export type SubtasksMetricsQuery = z.output<typeof subtasksQuerySchema>;

export const taskManagersQuerySchema = aggregatedQuerySchema.extend({
  taskmanagers: commaList(taskManagerIdSchema, MAX_SELECTED, "TaskManagers").optional(),
});
export type TaskManagersMetricsQuery = z.output<typeof taskManagersQuerySchema>;

export const jobMetricsParamSchema = z.object({ jobid: jobIdSchema });
export const vertexMetricsParamSchema = z.object({ jobid: jobIdSchema, vertexid: vertexIdSchema });
export const taskManagerMetricsParamSchema = z.object({ taskmanagerid: taskManagerIdSchema });

/** Flink's MetricCollectionResponseBody: `[{id}]` when listing, `[{id, value}]` when asked. */
export type MetricCollectionResponseBody = { id: string; value?: string }[];

/** Flink's AggregatedMetricsResponseBody: per metric, the aggregations asked (all without `agg`). */
export type AggregatedMetricsResponseBody = ({ id: string } & Partial<
  Record<Aggregation, number>
>)[];

export interface MetricQueryHandlers {
  jobManagerMetrics(q: MetricsQuery): Answer<MetricCollectionResponseBody>;
  taskManagersMetrics(q: TaskManagersMetricsQuery): Answer<AggregatedMetricsResponseBody>;
  taskManagerMetrics(tmId: string, q: MetricsQuery): Answer<MetricCollectionResponseBody>;
  jobMetrics(jobId: string, q: MetricsQuery): Answer<MetricCollectionResponseBody>;
  vertexMetrics(
    jobId: string,
    vertexId: string,
    q: MetricsQuery,
  ): Answer<MetricCollectionResponseBody>;
  subtasksMetrics(
    jobId: string,
    vertexId: string,
    q: SubtasksMetricsQuery,
  ): Answer<AggregatedMetricsResponseBody>;
}

/** The metric query routes: GETs only, so a read token reaches them (rest_guard). */
export function metricQueryRoutes(h: MetricQueryHandlers) {
  return createBlock()
    .get("/jobmanager/metrics", query(metricsQuerySchema), async (c) =>
      reply(c, await h.jobManagerMetrics(c.req.valid("query"))),
    )
    .get("/taskmanagers/metrics", query(taskManagersQuerySchema), async (c) =>
      reply(c, await h.taskManagersMetrics(c.req.valid("query"))),
    )
    .get(
      "/taskmanagers/:taskmanagerid/metrics",
      params(taskManagerMetricsParamSchema),
      query(metricsQuerySchema),
      async (c) =>
        reply(
          c,
          await h.taskManagerMetrics(c.req.valid("param").taskmanagerid, c.req.valid("query")),
        ),
    )
    .get(
      "/jobs/:jobid/metrics",
      params(jobMetricsParamSchema),
      query(metricsQuerySchema),
      async (c) => reply(c, await h.jobMetrics(c.req.valid("param").jobid, c.req.valid("query"))),
    )
    .get(
      "/jobs/:jobid/vertices/:vertexid/metrics",
      params(vertexMetricsParamSchema),
      query(metricsQuerySchema),
      async (c) => {
        const { jobid, vertexid } = c.req.valid("param");
        return reply(c, await h.vertexMetrics(jobid, vertexid, c.req.valid("query")));
      },
    )
    .get(
      "/jobs/:jobid/vertices/:vertexid/subtasks/metrics",
      params(vertexMetricsParamSchema),
      query(subtasksQuerySchema),
      async (c) => {
        const { jobid, vertexid } = c.req.valid("param");
        return reply(c, await h.subtasksMetrics(jobid, vertexid, c.req.valid("query")));
      },
    );
}

export type MetricQueryApp = ReturnType<typeof metricQueryRoutes>;
