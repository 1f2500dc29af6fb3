/**
 * What the Dispatcher knows of a job (a running job's JobManager status, or an ended job's result
 * and archive), turned into Flink's REST bodies (components/protocol flink_jobs.ts). Pure.
 */
import {
  ErrorCode,
  FlotillaError,
  type JobId,
  type JobState,
  type TaskState,
  vertexHexId,
} from "../core/mod.ts";
import type { JobTopology } from "../dataflow/internal_mod.ts";
import {
  FLINK_EXECUTION_STATES,
  FLINK_JOB_STATUSES,
  type FlinkExecutionState,
  type FlinkJobStatus,
  type IOMetricsInfo,
  type JobConfigInfo,
  type JobDetailsExtras,
  type JobDetailsInfo,
  type JobDetailsVertexInfo,
  type JobOverview,
  type JobPlan,
  type JobVertexDetailsInfo,
  type StatusCounts,
  type SubtaskDetails,
  type VertexDetails,
} from "../protocol/mod.ts";

/** A job as the Dispatcher sees it: what every job route is made from. */
export interface JobView {
  jobId: JobId;
  name: string;
  state: JobState;
  submittedAt: number;
  /** Ended jobs: when. */
  finishedAt?: number;
  /** Epoch ms the job entered each state, when known (0: never). */
  timestamps?: Partial<Record<JobState, number>>;
  vertices: VertexDetails[];
  /** The job's graph, while the Dispatcher has it (not after a failover for an ended job). */
  topology?: JobTopology;
  /** The job's arguments (never its secrets), when known. */
  args?: Record<string, string>;
  extras: JobDetailsExtras;
}

const zeroCounts = (): StatusCounts =>
  Object.fromEntries(FLINK_EXECUTION_STATES.map((s) => [s, 0])) as StatusCounts;

/** A vertex's subtasks by state; those not deployed yet count as CREATED, as Flink's. */
function vertexCounts(vertex: VertexDetails): StatusCounts {
  const counts = zeroCounts();
  let known = 0;
  for (const [state, n] of Object.entries(vertex.tasks) as [TaskState, number][]) {
    counts[state] += n;
    known += n;
  }
  counts.CREATED += Math.max(0, vertex.parallelism - known);
  return counts;
}

/** One state for a vertex from its subtasks' (Flink's ExecutionJobVertex aggregate, simplified). */
function vertexStatus(counts: StatusCounts, parallelism: number): FlinkExecutionState {
  for (const state of ["FAILED", "CANCELING", "CANCELED"] as const)
    if (counts[state] > 0) return state;
  if (parallelism > 0 && counts.FINISHED === parallelism) return "FINISHED";
  for (const state of ["RUNNING", "DEPLOYING"] as const) if (counts[state] > 0) return state;
  return counts.FINISHED > 0 ? "RUNNING" : "CREATED";
}

function ioMetrics(of: {
  recordsIn: number;
  recordsOut: number;
  bytesIn?: number;
  bytesOut?: number;
}): IOMetricsInfo {
  return {
    "read-bytes": of.bytesIn ?? 0,
    "read-bytes-complete": of.bytesIn !== undefined,
    "write-bytes": of.bytesOut ?? 0,
    "write-bytes-complete": of.bytesOut !== undefined,
    "read-records": of.recordsIn,
    "read-records-complete": true,
    "write-records": of.recordsOut,
    "write-records-complete": true,
  };
}

/** Flink's duration: from start to end, or to now while not ended; -1 before it started. */
function duration(start: number, end: number, now: number): number {
  if (start < 0) return -1;
  return Math.max(0, (end >= 0 ? end : now) - start);
}

const maxParallelismOf = (view: JobView, vertexId: string): number =>
  view.topology?.vertices.find((v) => v.id === vertexId)?.maxParallelism ?? -1;

function vertexInfo(view: JobView, vertex: VertexDetails, now: number): JobDetailsVertexInfo {
  const tasks = vertexCounts(vertex);
  const start = vertex["start-time"] ?? -1;
  const end = vertex["end-time"] ?? -1;
  return {
    id: vertexHexId(vertex.id),
    name: vertex.name,
    maxParallelism: maxParallelismOf(view, vertex.id),
    parallelism: vertex.parallelism,
    status: vertexStatus(tasks, vertex.parallelism),
    "start-time": start,
    "end-time": end,
    duration: duration(start, end, now),
    tasks,
    metrics: ioMetrics(vertex),
    flotilla: {
      vertexId: vertex.id,
      ...(vertex.parallelismBounds ? { parallelismBounds: vertex.parallelismBounds } : {}),
    },
  };
}

/** Every JobStatus a key, as Flink sends them; what flotilla knows filled in. */
function jobTimestamps(view: JobView): Record<FlinkJobStatus, number> {
  const out = Object.fromEntries(FLINK_JOB_STATUSES.map((s) => [s, 0])) as Record<
    FlinkJobStatus,
    number
  >;
  out.CREATED = view.submittedAt;
  for (const [state, at] of Object.entries(view.timestamps ?? {}) as [JobState, number][])
    if (at > 0) out[state] = at;
  if (view.finishedAt !== undefined && out[view.state] === 0) out[view.state] = view.finishedAt;
  return out;
}

const SHIP_STRATEGY: Record<string, string> = {
  forward: "FORWARD",
  rebalance: "REBALANCE",
  hash: "HASH",
  broadcast: "BROADCAST",
};

/**
 * Flink's JSON plan (JsonPlanGenerator's shape) from the job's graph; without the graph (an ended
 * job after a failover), from its vertices, with no inputs known.
 */
export function jobPlan(view: JobView): JobPlan {
  const parallelism = new Map(view.vertices.map((v) => [v.id, v.parallelism]));
  const graph = view.topology;
  const nodes = graph
    ? graph.vertices.map((v) => {
        const inputs = graph.edges
          .filter((e) => e.target === v.id)
          .map((e, num) => ({
            num,
            id: vertexHexId(e.source),
            ship_strategy: SHIP_STRATEGY[e.partitioning] ?? e.partitioning.toUpperCase(),
            exchange: "pipelined_bounded",
          }));
        const chain = v.operators.map((op) => op.name).join(" -> ");
        return {
          id: vertexHexId(v.id),
          parallelism: parallelism.get(v.id) ?? v.parallelism,
          operator: "",
          operator_strategy: "",
          description: chain || v.name,
          ...(inputs.length ? { inputs } : {}),
          optimizer_properties: {},
        };
      })
    : view.vertices.map((v) => ({
        id: vertexHexId(v.id),
        parallelism: v.parallelism,
        operator: "",
        operator_strategy: "",
        description: v.name,
        optimizer_properties: {},
      }));
  return { jid: view.jobId, name: view.name, type: "STREAMING", nodes };
}

const ENDED = new Set<string>(["FINISHED", "CANCELED", "FAILED"]);

/** Every subtask of the job by state. */
function jobCounts(view: JobView): StatusCounts {
  const counts = zeroCounts();
  for (const vertex of view.vertices) {
    const tasks = vertexCounts(vertex);
    for (const state of FLINK_EXECUTION_STATES) counts[state] += tasks[state];
  }
  return counts;
}

const endOf = (view: JobView, now: number): number =>
  ENDED.has(view.state) ? (view.finishedAt ?? now) : -1;

export function jobDetailsInfo(view: JobView, now: number): JobDetailsInfo {
  const end = endOf(view, now);
  return {
    jid: view.jobId,
    name: view.name,
    isStoppable: view.state === "RUNNING",
    state: view.state,
    "start-time": view.submittedAt,
    "end-time": end,
    duration: duration(view.submittedAt, end, now),
    maxParallelism: -1,
    now,
    timestamps: jobTimestamps(view),
    vertices: view.vertices.map((v) => vertexInfo(view, v, now)),
    "status-counts": jobCounts(view),
    plan: jobPlan(view),
    flotilla: view.extras,
  };
}

/** One entry of `/jobs/overview`: Flink's JobDetails as its serializer writes it (no plan, no vertices). */
export function jobOverview(view: JobView, now: number): JobOverview {
  const counts = jobCounts(view);
  const tasks = Object.fromEntries(
    FLINK_EXECUTION_STATES.map((s) => [s.toLowerCase(), counts[s]]),
  ) as JobOverview["tasks"];
  tasks.total = FLINK_EXECUTION_STATES.reduce((n, s) => n + counts[s], 0);
  const end = endOf(view, now);
  return {
    jid: view.jobId,
    name: view.name,
    state: view.state,
    "start-time": view.submittedAt,
    "end-time": end,
    duration: duration(view.submittedAt, end, now),
    "last-modification": Math.max(...Object.values(jobTimestamps(view))),
    tasks,
  };
}

function describeRestarts(topology: JobTopology | undefined): string {
  const strategy = topology?.options.restartStrategy;
  switch (strategy?.type) {
    case undefined:
      return "Cluster level default restart strategy";
    case "none":
      return "No restart strategy.";
    case "fixed-delay":
      return `Restart with fixed delay (${strategy.delayMs} ms). #${strategy.attempts} restart attempts.`;
    case "failure-rate":
      return `Failure rate restart with maximum of ${strategy.maxFailures} failures within interval ${strategy.intervalMs} ms and fixed delay ${strategy.delayMs} ms.`;
    case "exponential-delay":
      return `Restart with exponential delay: starting at ${strategy.initialDelayMs ?? "the default"} ms, multiplied by ${strategy.multiplier ?? "the default"}, at most ${strategy.maxDelayMs ?? "the default"} ms${strategy.attempts ? `, #${strategy.attempts} restart attempts` : ""}.`;
  }
}

export function jobConfigInfo(view: JobView): JobConfigInfo {
  return {
    jid: view.jobId,
    name: view.name,
    "execution-config": {
      "execution-mode": "PIPELINED",
      "restart-strategy": describeRestarts(view.topology),
      "job-parallelism":
        view.topology?.options.parallelism ??
        Math.max(0, ...view.vertices.map((v) => v.parallelism)),
      "object-reuse-mode": false,
      "user-config": { ...view.args },
    },
  };
}

/** The vertex `:vertexid` names: its hex id or flotilla's own; 404 when the job has neither. */
export function findVertex(view: JobView, vertexId: string): VertexDetails {
  const vertex = view.vertices.find((v) => v.id === vertexId || vertexHexId(v.id) === vertexId);
  if (!vertex)
    throw new FlotillaError(
      ErrorCode.NOT_FOUND,
      `job ${view.jobId} has no vertex ${vertexId}: GET /jobs/${view.jobId} lists its vertices (id, or flotilla.vertexId)`,
    );
  return vertex;
}

function subtaskInfo(subtask: SubtaskDetails, now: number) {
  const start = subtask["start-time"] ?? -1;
  const end = subtask["end-time"] ?? -1;
  const tm = subtask.taskmanager ?? "(unassigned)";
  return {
    subtask: subtask.subtask,
    status: subtask.state,
    attempt: subtask.attempt ?? 0,
    host: subtask.host ?? tm,
    "start-time": start,
    "end-time": end,
    duration: duration(start, end, now),
    metrics: ioMetrics(subtask),
    "taskmanager-id": subtask["taskmanager-id"] ?? tm,
    start_time: start,
  };
}

export function jobVertexDetailsInfo(
  view: JobView,
  vertex: VertexDetails,
  now: number,
): JobVertexDetailsInfo {
  return {
    id: vertexHexId(vertex.id),
    name: vertex.name,
    parallelism: vertex.parallelism,
    maxParallelism: maxParallelismOf(view, vertex.id),
    now,
    subtasks: vertex.subtasks.map((s) => subtaskInfo(s, now)),
    flotilla: {
      vertexId: vertex.id,
      ...(vertex.parallelismBounds ? { parallelismBounds: vertex.parallelismBounds } : {}),
    },
  };
}
