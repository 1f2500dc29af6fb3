/**
 * What the Dispatcher answers to Flink's metric queries (components/protocol metric_queries.ts):
 * jobs and their vertices from the JobManagers this process runs, the JobManager scope from this
 * process and the ResourceManager, TaskManagers from each one's `GET /metrics` over the fabric.
 */
import { ErrorCode, FlotillaError, toFlotillaError, vertexHexId } from "../core/mod.ts";
import {
  jobMetricValues,
  jobSnapshots,
  processStatus,
  RATES,
  taskMetricValues,
  trackedJobCount,
} from "../metrics/mod.ts";
import type {
  MetricQueryHandlers,
  ResourceManagerApp,
  SubtaskDetails,
  TaskManagerApp,
} from "../protocol/mod.ts";
import {
  type CallDeadlines,
  createClient,
  type RpcClient,
  type Transport,
  unwrap,
} from "../rpc/mod.ts";
import { jobStatusHere } from "./job_metrics.ts";
import { aggregated, collection, type MetricValues, RateSampler } from "./metric_values.ts";

export interface MetricQuerySources {
  resourceManager: RpcClient<ResourceManagerApp>;
  /** Where a TaskManager's subject is reached (the Dispatcher's fabric). */
  transportFor: (subject: string) => Transport;
  /** Deadlines of the calls to TaskManagers. */
  rpc: CallDeadlines;
  now?: () => number;
}

/** TaskManagers one `/taskmanagers/metrics` asks at once, at most (the rest wait their turn). */
const TASK_MANAGER_CALLS = 16;

export function metricQueryHandlers({
  resourceManager: rm,
  transportFor,
  rpc,
  now = Date.now,
}: MetricQuerySources): MetricQueryHandlers {
  const sampler = new RateSampler();
  const taskManager = (subject: string) => createClient<TaskManagerApp>(transportFor(subject), rpc);

  async function taskManagerValues(subject: string): Promise<MetricValues> {
    return await unwrap(taskManager(subject).metrics.$get());
  }

  /** A vertex's subtasks' figures by Flink's id, from the job's JobManager in this process. */
  function subtaskValues(
    jobId: string,
    vertexId: string,
  ): { subtask: number; values: MetricValues }[] {
    const status = jobStatusHere(jobId);
    const vertex = status?.vertices.find(
      (v) => v.id === vertexId || vertexHexId(v.id) === vertexId,
    );
    if (!status || !vertex) return [];
    return vertex.subtasks.map((s) => {
      const counters = countersOf(s);
      const key = `${jobId}/${vertex.id}/${s.subtask}/${status.attempt}`;
      const rates = sampler.rates(key, counters, COUNTERS_WITH_RATES, now());
      const named: Record<string, number> = { ...wholeRunShares(counters) };
      for (const [counter, name] of RATES)
        if (rates[counter] !== undefined) named[name] = rates[counter];
      return { subtask: s.subtask, values: taskMetricValues({ counters, rates: named }) };
    });
  }

  return {
    async jobManagerMetrics({ get }) {
      const values: Record<string, number> = {
        ...processStatus(),
        numRunningJobs: trackedJobCount(),
      };
      // The ResourceManager's figures are the JobManager scope's in Flink (one process there).
      const resources = await unwrap(rm.overview.$get()).catch(() => undefined);
      if (resources) {
        values.numRegisteredTaskManagers = resources.taskmanagers;
        values.taskSlotsTotal = resources.slotsTotal;
        values.taskSlotsAvailable = resources.slotsFree;
        values.numPendingTaskManagers = resources.pendingTaskManagers;
      }
      return collection(values, get);
    },

    async taskManagerMetrics(tmId, { get }) {
      const info = await unwrap(rm.taskmanagers[":tmId"].$get({ param: { tmId } }));
      return collection(await askTaskManager(info.subject), get);
    },

    async taskManagersMetrics({ get, agg, taskmanagers }) {
      const { taskmanagers: all } = await unwrap(rm.taskmanagers.$get());
      const chosen = taskmanagers ? all.filter((tm) => taskmanagers.includes(tm.tmId)) : all;
      const values: MetricValues[] = [];
      for (let i = 0; i < chosen.length; i += TASK_MANAGER_CALLS) {
        const answers = await Promise.allSettled(
          chosen.slice(i, i + TASK_MANAGER_CALLS).map((tm) => taskManagerValues(tm.subject)),
        );
        // A TaskManager that does not answer now is left out, as Flink's metric fetcher does.
        for (const a of answers) if (a.status === "fulfilled") values.push(a.value);
      }
      return aggregated(values, get, agg);
    },

    jobMetrics(jobId, { get }) {
      const snapshot = jobSnapshots().find((s) => s.jobId === jobId);
      // Flink answers [] for a job it has no metrics of (ended, or not known).
      return snapshot ? collection(jobMetricValues(snapshot), get) : [];
    },

    vertexMetrics(jobId, vertexId, { get }) {
      const prefixed: Record<string, number> = {};
      for (const { subtask, values } of subtaskValues(jobId, vertexId))
        for (const [id, value] of Object.entries(values)) prefixed[`${subtask}.${id}`] = value;
      return collection(prefixed, get);
    },

    subtasksMetrics(jobId, vertexId, { get, agg, subtasks }) {
      const chosen = subtaskValues(jobId, vertexId).filter(
        (s) => !subtasks || subtasks.includes(s.subtask),
      );
      return aggregated(
        chosen.map((s) => s.values),
        get,
        agg,
      );
    },
  };

  async function askTaskManager(subject: string): Promise<MetricValues> {
    try {
      return await taskManagerValues(subject);
    } catch (err) {
      const error = toFlotillaError(err);
      throw new FlotillaError(
        ErrorCode.UNAVAILABLE,
        `the TaskManager did not answer its metrics (${error.message}): try again`,
        { cause: err },
      );
    }
  }
}

const COUNTERS_WITH_RATES = RATES.map(([counter]) => counter);

/**
 * Busy, idle and back-pressured ms per second over the subtask's whole run: what a first query
 * answers, before two reports make a window (a share of time needs no window, a rate does).
 */
function wholeRunShares(c: MetricValues): Record<string, number> {
  const busy = c.busyMs ?? 0;
  const idle = c.idleMs ?? 0;
  const backPressured = c.backPressuredMs ?? 0;
  const total = busy + idle + backPressured;
  if (total <= 0) return {};
  return {
    busyTimeMsPerSecond: (busy / total) * 1000,
    idleTimeMsPerSecond: (idle / total) * 1000,
    backPressuredTimeMsPerSecond: (backPressured / total) * 1000,
  };
}

/** A subtask's counters: the named ones its status carries, and those it passes on as reported. */
function countersOf(subtask: SubtaskDetails): MetricValues {
  const reported = subtask.metrics;
  return {
    recordsIn: subtask.recordsIn,
    recordsOut: subtask.recordsOut,
    ...(subtask.bytesIn !== undefined ? { bytesIn: subtask.bytesIn } : {}),
    ...(subtask.bytesOut !== undefined ? { bytesOut: subtask.bytesOut } : {}),
    ...reported,
  };
}
