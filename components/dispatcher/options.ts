/**
 * What a Dispatcher is created with, and its bounds from the cluster's config (`jobstore.*`,
 * `blob.*`, `collect-sink.max-records`, `dispatcher.max-running-jobs`).
 */
import type { Clock, Config, Logger } from "../core/mod.ts";
import {
  type JobHistoryBounds,
  jobHistoryBoundsFrom,
  type SchedulerOptions,
} from "../jobmanager/mod.ts";
import type { ArtifactRetentionOptions } from "./artifact_sweeper.ts";
import type { JobStoreOptions } from "./ended_jobs.ts";
import type { GraphBuilder } from "./graph_builder.ts";
import type { Deadlines } from "./job_managers.ts";
import type { DispatcherStores, JobManagerFabric } from "./types.ts";

export interface DispatcherOptions {
  clusterId: string;
  fabric: JobManagerFabric;
  stores: DispatcherStores;
  /**
   * The fencing token of this Dispatcher's leadership term: greater in every later term, so the
   * JobManagers it recovers deploy attempts above any an earlier leader's did.
   */
  term: number;
  /**
   * Deadlines of its calls to JobManagers and the ResourceManager (`rpc.timeout`, ...) and of its
   * JobManagers' (`jobManagerDeadlinesFrom(config)`).
   */
  deadlines: Deadlines;
  /**
   * Builds a submitted or recovered job's graph from its artifact (`graph_builder.ts`): the
   * roles pass the sandbox, so user code never runs in this process. @default in this process
   */
  buildGraph?: GraphBuilder;
  /** Fails a job whose slots do not come within this long. @default 300000 */
  slotRequestTimeoutMs?: number;
  /** Ended jobs kept (`jobstore.max-capacity`, `jobstore.expiration-time`). @default 1000, 1 h */
  jobStore?: JobStoreOptions;
  /** Artifact collection (`blob.artifact-ttl`, `blob.max-artifacts`, ...). @default 1 h, 1000 */
  artifacts?: ArtifactRetentionOptions;
  /** Most values a job's collect sinks hand back (`collect-sink.max-records`). @default 100000 */
  collectMaxRecords?: number;
  /** Most jobs not ended at once (`dispatcher.max-running-jobs`); one more is 429. @default 1000 */
  maxRunningJobs?: number;
  /** Time of results, expiry and artifact use; its timers run the housekeeping. @default real */
  clock?: Clock;
  /** History each JobManager keeps (`web.checkpoints.history`, `web.exception-history-size`). */
  history?: JobHistoryBounds;
  /** The cluster's scheduler settings (`jobmanager.scheduler`, ...). @default the default scheduler */
  scheduler?: SchedulerOptions;
  /**
   * Whether this term still leads (its fence, checked against the lease's own deadline): its
   * JobManagers do not act on timers or late answers once it does not. @default always
   */
  leading?: () => boolean;
  log?: Logger;
}

type LimitKeys =
  | "jobstore.max-capacity"
  | "jobstore.expiration-time"
  | "blob.artifact-ttl"
  | "blob.max-artifacts"
  | "blob.service.cleanup.interval"
  | "collect-sink.max-records"
  | "dispatcher.max-running-jobs"
  | "web.checkpoints.history"
  | "web.exception-history-size";

/** The Dispatcher's bounds from the config. */
export function dispatcherLimitsFrom(
  config: Pick<Config, LimitKeys>,
): Pick<
  DispatcherOptions,
  "jobStore" | "artifacts" | "collectMaxRecords" | "maxRunningJobs" | "history"
> {
  return {
    jobStore: {
      maxCapacity: config["jobstore.max-capacity"],
      expirationMs: config["jobstore.expiration-time"],
    },
    artifacts: {
      ttlMs: config["blob.artifact-ttl"],
      maxArtifacts: config["blob.max-artifacts"],
      cleanupIntervalMs: config["blob.service.cleanup.interval"],
    },
    collectMaxRecords: config["collect-sink.max-records"],
    maxRunningJobs: config["dispatcher.max-running-jobs"],
    history: jobHistoryBoundsFrom(config),
  };
}
