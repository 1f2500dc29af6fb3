/**
 * What the Dispatcher does for each route of its contract (components/protocol dispatcher.ts):
 * job routes delegate to the Dispatcher, which asks the job's JobManager; the cluster's
 * resources come from the ResourceManager, through its typed client.
 */
import { JobState, toFlotillaError, UnavailableError } from "../core/mod.ts";
import {
  type ClusterConfig,
  type ClusterOverview,
  type DispatcherHandlers,
  dispatcherRoutes,
  type ResourceOverview,
} from "../protocol/mod.ts";
import { dispatcherMetrics, processMetrics } from "../metrics/mod.ts";
import { rejectionMetrics, unwrap } from "../rpc/mod.ts";
import type { Dispatcher } from "./dispatcher.ts";

export interface DispatcherAppOptions {
  /** What `GET /config` tells clients (no secrets). @default {} */
  config?: ClusterConfig;
}

const ENDED: readonly JobState[] = [JobState.FINISHED, JobState.CANCELED, JobState.FAILED];

export function dispatcherHandlers(
  dispatcher: Dispatcher,
  { config = {} }: DispatcherAppOptions = {},
): DispatcherHandlers {
  const rm = dispatcher.resourceManager;
  return {
    health: () => ({ ok: true }),
    config: () => config,
    async overview(): Promise<ClusterOverview> {
      const [counts, resources] = await Promise.all([
        dispatcher.counts(),
        unwrap(rm.overview.$get()).then(
          (overview): ResourceOverview | undefined => overview,
          () => undefined,
        ),
      ]);
      return {
        taskmanagers: resources?.taskmanagers ?? 0,
        slotsTotal: resources?.slotsTotal ?? 0,
        slotsAvailable: resources?.slotsFree ?? 0,
        jobsRunning: Object.values(JobState)
          .filter((state) => !ENDED.includes(state))
          .reduce((sum, state) => sum + counts[state], 0),
        jobsFinished: counts[JobState.FINISHED],
        jobsCanceled: counts[JobState.CANCELED],
        jobsFailed: counts[JobState.FAILED],
        resourceManager: resources ? "up" : "unreachable",
      };
    },
    async taskManagers() {
      try {
        return (await unwrap(rm.taskmanagers.$get())).taskmanagers;
      } catch (err) {
        throw new UnavailableError(
          `the ResourceManager did not answer (${toFlotillaError(err).message}): try again when it is elected`,
          { cause: err },
        );
      }
    },
    uploadArtifact: (bytes) => dispatcher.uploadArtifact(bytes),
    hasArtifact: (artifact) => dispatcher.hasArtifact(artifact),
    jobs: (query) => dispatcher.jobs(query),
    submit: (request) =>
      dispatcherMetrics().timeSubmission(async () => ({ jobId: await dispatcher.submit(request) })),
    job: (jobId) => dispatcher.details(jobId),
    results: (jobId) => dispatcher.results(jobId),
    cancel: (jobId) => dispatcher.cancel(jobId),
    savepoint: (jobId) => dispatcher.savepoint(jobId),
    stop: (jobId, request) => dispatcher.stop(jobId, request),
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
