/**
 * What the Dispatcher does for each route of its contract (components/protocol dispatcher.ts):
 * job routes delegate to the Dispatcher, which asks the job's JobManager, and answer in Flink's
 * shapes (flink_*_views.ts); the cluster's resources come from the ResourceManager's typed client.
 */
import pkg from "../../package.json" with { type: "json" };
import {
  type Clock,
  ErrorCode,
  FlotillaError,
  JobState,
  systemClock,
  toFlotillaError,
  UnavailableError,
} from "../core/mod.ts";
import { dispatcherMetrics, processMetrics } from "../metrics/mod.ts";
import {
  type DispatcherHandlers,
  dispatcherRoutes,
  type ResourceOverview,
  type TaskManagerInfo,
} from "../protocol/mod.ts";
import { rejectionMetrics, unwrap } from "../rpc/mod.ts";
import { AsyncOperations, type AsyncOperationsOptions } from "./async_operations.ts";
import type { Dispatcher } from "./dispatcher.ts";
import {
  type ClusterIdentity,
  clusterConfigurationInfo,
  clusterOverview,
  dashboardConfiguration,
  taskManagerDetailsInfo,
  taskManagerInfo,
} from "./flink_cluster_views.ts";
import {
  findVertex,
  jobConfigInfo,
  jobDetailsInfo,
  jobOverview,
  jobPlan,
  jobVertexDetailsInfo,
} from "./flink_job_views.ts";
import { BackPressureSampler, vertexWatermarks } from "./flink_vertex_metrics.ts";
import { metricQueryHandlers } from "./metric_queries.ts";

export interface DispatcherAppOptions {
  /** The cluster's settings, for `GET /jobmanager/config` (keys naming secrets are left out). @default {} */
  settings?: Readonly<Record<string, unknown>>;
  /** Whether REST submission is on (`web.submit.enable`), for `/config`'s features. @default true */
  submit?: boolean;
  /** How long savepoint and stop outcomes are kept, and how many. */
  asyncOperations?: AsyncOperationsOptions;
  clock?: Clock;
}

/** flotilla's own version where Flink's bodies carry Flink's (flotilla is not Flink). */
const IDENTITY: ClusterIdentity = { version: pkg.version };

export function dispatcherHandlers(
  dispatcher: Dispatcher,
  {
    settings = {},
    submit = true,
    asyncOperations = {},
    clock = systemClock,
  }: DispatcherAppOptions = {},
): DispatcherHandlers {
  const rm = dispatcher.resourceManager;
  const operations = new AsyncOperations({ clock, ...asyncOperations });
  const backPressure = new BackPressureSampler();
  const identity: ClusterIdentity = { ...IDENTITY, submit };

  async function fromResourceManager<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const error = toFlotillaError(err);
      if (error.code === ErrorCode.NOT_FOUND) throw error;
      throw new UnavailableError(
        `the ResourceManager did not answer (${error.message}): try again when it is elected`,
        { cause: err },
      );
    }
  }

  /** A trigger for a job: a known trigger id answers its operation, else the job must run. */
  async function trigger(
    jobId: Parameters<Dispatcher["view"]>[0],
    triggerId: string | undefined,
    run: () => Promise<string>,
  ) {
    if (!(triggerId && operations.has(jobId, triggerId))) await dispatcher.requireRunning(jobId);
    return { "request-id": operations.trigger(jobId, triggerId, run) };
  }

  return {
    ...metricQueryHandlers({
      resourceManager: rm,
      transportFor: dispatcher.transportFor,
      rpc: dispatcher.rpcDeadlines,
    }),
    health: () => ({ ok: true }),
    config: () => dashboardConfiguration(identity),
    async overview() {
      const [counts, resources] = await Promise.all([
        dispatcher.counts(),
        unwrap(rm.overview.$get()).then(
          (overview): ResourceOverview | undefined => overview,
          () => undefined,
        ),
      ]);
      return clusterOverview(identity, counts, resources);
    },
    jobManagerConfig: () => clusterConfigurationInfo(settings),
    async taskManagers() {
      const { taskmanagers } = await fromResourceManager(() => unwrap(rm.taskmanagers.$get()));
      return { taskmanagers: taskmanagers.map((tm: TaskManagerInfo) => taskManagerInfo(tm)) };
    },
    async taskManager(tmId) {
      const tm = await fromResourceManager(() =>
        unwrap(rm.taskmanagers[":tmId"].$get({ param: { tmId } })),
      );
      return taskManagerDetailsInfo(tm);
    },
    uploadArtifact: (bytes) => dispatcher.uploadArtifact(bytes),
    hasArtifact: (artifact) => dispatcher.hasArtifact(artifact),
    async jobs(query) {
      const page = await dispatcher.jobs(query);
      return {
        jobs: page.jobs.map((job) => ({ id: job.id, status: job.state })),
        ...(page.next ? { next: page.next } : {}),
      };
    },
    async jobsOverview() {
      const now = clock.now();
      return { jobs: (await dispatcher.views()).map((view) => jobOverview(view, now)) };
    },
    submit: (request) =>
      dispatcherMetrics().timeSubmission(async () => ({ jobId: await dispatcher.submit(request) })),
    job: async (jobId) => jobDetailsInfo(await dispatcher.view(jobId), clock.now()),
    plan: async (jobId) => ({ plan: jobPlan(await dispatcher.view(jobId)) }),
    jobConfig: async (jobId) => jobConfigInfo(await dispatcher.view(jobId)),
    async vertex(jobId, vertexId) {
      const view = await dispatcher.view(jobId);
      return jobVertexDetailsInfo(view, findVertex(view, vertexId), clock.now());
    },
    watermarks: async (jobId, vertexId) =>
      vertexWatermarks(findVertex(await dispatcher.view(jobId), vertexId)),
    async backPressure(jobId, vertexId) {
      const view = await dispatcher.view(jobId);
      if (view.finishedAt !== undefined) return { status: "deprecated" };
      return backPressure.info(jobId, findVertex(view, vertexId), clock.now());
    },
    results: (jobId) => dispatcher.results(jobId),
    checkpoints: (jobId) => dispatcher.history.checkpoints(jobId),
    checkpointConfig: (jobId) => dispatcher.history.checkpointConfig(jobId),
    checkpointDetails: (jobId, checkpointId) =>
      dispatcher.history.checkpointDetails(jobId, checkpointId),
    checkpointSubtasks: (jobId, checkpointId, vertexId) =>
      dispatcher.history.checkpointSubtasks(jobId, checkpointId, vertexId),
    exceptions: (jobId, query) => dispatcher.history.exceptions(jobId, query),
    async cancel(jobId) {
      // Flink's old `stop` mode (a graceful stop of the sources) cancels too: POST /stop stops.
      await dispatcher.cancel(jobId);
      return {};
    },
    triggerSavepoint: (jobId, request) =>
      trigger(jobId, request.triggerId, () =>
        request["cancel-job"] ? dispatcher.stopWithSavepoint(jobId) : dispatcher.savepoint(jobId),
      ),
    stop(jobId, request) {
      if (request.drain)
        throw new FlotillaError(
          ErrorCode.BAD_REQUEST,
          "drain: true is not supported: flotilla's stop-with-savepoint does not end the sources with a final watermark (windows are not flushed); stop without drain, or cancel",
        );
      return trigger(jobId, request.triggerId, () => dispatcher.stopWithSavepoint(jobId));
    },
    savepointStatus: (jobId, triggerId) => operations.status(jobId, triggerId),
    resourceRequirements: (jobId) => dispatcher.resourceRequirements(jobId),
    setResourceRequirements: (jobId, requirements) =>
      dispatcher.setResourceRequirements(jobId, requirements),
    async metrics() {
      const counts = await dispatcher.counts();
      const lines = [
        "# HELP flotilla_jobs Jobs known to the dispatcher, by state.",
        "# TYPE flotilla_jobs gauge",
      ];
      for (const state of Object.values(JobState))
        lines.push(`flotilla_jobs{state="${state}"} ${counts[state]}`);
      // Every series of this process (the master's RM and JobManagers, components/metrics), and
      // its refused messages.
      return await processMetrics().text(`${lines.join("\n")}\n${rejectionMetrics()}`);
    },
  };
}

/** The Dispatcher's app: its contract's routes over `dispatcher`. */
export function dispatcherApp(dispatcher: Dispatcher, options: DispatcherAppOptions = {}) {
  return dispatcherRoutes(dispatcherHandlers(dispatcher, options), { log: dispatcher.log });
}
