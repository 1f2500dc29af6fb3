/**
 * What keeps a Dispatcher's term bounded: its jobstore of ended jobs (read once from the HA
 * stores, expired on insertion and on a timer) and its artifact sweeper, on the term's clock.
 */
import type { Clock, FlotillaError, Logger } from "../core/mod.ts";
import { type ArtifactRetentionOptions, artifactSweeper } from "./artifact_sweeper.ts";
import { EndedJobs, type JobStoreOptions } from "./ended_jobs.ts";
import { expiredJob, unknownJob } from "./job_answers.ts";
import type { DispatcherStores } from "./types.ts";

export interface RetentionOptions {
  jobStore?: JobStoreOptions;
  artifacts?: ArtifactRetentionOptions;
}

/** How often expiry runs at most: an ended job outlives its expiration by less than this. */
const MAX_EXPIRY_INTERVAL_MS = 60_000;

export function dispatcherRetention(
  { jobStore = {}, artifacts: artifactOptions = {} }: RetentionOptions,
  {
    stores,
    artifactsInUse,
    clock,
    log,
  }: {
    stores: DispatcherStores;
    /** Artifacts of every job not ended (running, starting, or kept for recovery). */
    artifactsInUse: () => Promise<Set<string>>;
    clock: Clock;
    log: Logger;
  },
) {
  const ended = new EndedJobs(jobStore, {
    clock,
    log,
    // The graph first: a result is what keeps a stored graph from being started again.
    forget: async (jobId) => {
      await stores.jobs.remove(jobId);
      await stores.results.remove(jobId);
    },
  });
  /** The ended jobs the stores hold, read once per term; every use of `ended` waits for it. */
  const loaded = stores.results.list().then(
    (results) => {
      ended.load(results);
      ended.expire();
    },
    (err: Error) => log.warn({ err: err.message }, "reading the ended jobs failed"),
  );
  const artifacts = artifactSweeper(artifactOptions, {
    blobs: stores.blobs,
    inUse: artifactsInUse,
    clock,
    log,
  });
  const expire = async () => {
    await loaded;
    return ended.expire();
  };
  const timers = [
    repeat(clock, Math.max(1000, Math.min(ended.expirationMs, MAX_EXPIRY_INTERVAL_MS)), expire),
    repeat(clock, artifactOptions.cleanupIntervalMs ?? 300_000, () => artifacts.sweep()),
  ];
  return {
    ended,
    artifacts,
    /** Forgets the ended jobs past the jobstore's bounds (bounded work): the ones it forgot. */
    expire,
    /** The kept ended job, once the stores were read. */
    async endedJob(jobId: string) {
      await loaded;
      return ended.get(jobId);
    },
    /** Keeps an ended job (and what it left in memory); the oldest past the bounds go. */
    async add(...args: Parameters<EndedJobs["add"]>) {
      await loaded;
      ended.add(...args);
    },
    /** 404 for a job not kept: expired from the jobstore, or never known. */
    forgotten: (jobId: string): FlotillaError =>
      ended.wasExpired(jobId)
        ? expiredJob(jobId, ended.maxCapacity, ended.expirationMs)
        : unknownJob(jobId),
    whenLoaded: () => loaded,
    stop(): void {
      for (const stop of timers) stop();
    },
  };
}

/** Runs `task` every `ms` on `clock` (never twice at once) until the returned stop is called. */
function repeat(clock: Clock, ms: number, task: () => Promise<unknown>): () => void {
  let on = true;
  let handle: unknown;
  const schedule = () => {
    handle = clock.setTimer(tick, ms);
    // Housekeeping never keeps a process alive.
    (handle as { unref?: () => void } | undefined)?.unref?.();
  };
  const tick = () => {
    void task()
      .catch(() => {})
      .finally(() => {
        if (on) schedule();
      });
  };
  schedule();
  return () => {
    on = false;
    clock.clearTimer(handle);
  };
}
