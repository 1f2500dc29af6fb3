/**
 * The Dispatcher's jobstore: the ended jobs it still answers for, kept by count and age (Flink's
 * `jobstore.max-capacity` and `jobstore.expiration-time`), with their counts by state.
 */
import { type Clock, type Logger, LruCache } from "../core/mod.ts";
import type { JobTopology } from "../dataflow/internal_mod.ts";
import type { CollectedResults, JobHistoryArchive, VertexDetails } from "../protocol/mod.ts";
import type { JobResultRecord } from "./types.ts";

export interface JobStoreOptions {
  /** Ended jobs kept; past it the oldest goes (`jobstore.max-capacity`). @default 1000 */
  maxCapacity?: number;
  /** How long an ended job is kept (`jobstore.expiration-time`). @default 3600000 */
  expirationMs?: number;
  /** Of the kept jobs, how many newest keep their collected results and vertices. @default 50 */
  retainedResults?: number;
}

/** What an ended job leaves in memory besides its result record. */
export interface EndedLeftovers {
  results: CollectedResults;
  vertices?: VertexDetails[];
  /** The job's graph and arguments, for its plan and config pages. */
  topology?: JobTopology;
  args?: Record<string, string>;
}

type EndedState = JobResultRecord["state"];

/** Most jobs one expiry run forgets: a run never takes long, the next one goes on. */
export const MAX_EXPIRED_PER_RUN = 256;
/** Ids of expired jobs remembered, to tell "expired" from "never existed". */
const REMEMBERED_EXPIRED = 10_000;

export class EndedJobs {
  readonly maxCapacity: number;
  readonly expirationMs: number;
  readonly #retainedResults: number;
  /** In the order they ended (the store's list is earliest end first, and ends append). */
  readonly #results = new Map<string, JobResultRecord>();
  readonly #leftovers: LruCache<string, EndedLeftovers>;
  /**
   * The newest ended jobs' history archives (each up to JOB_HISTORY_ARCHIVE_MAX_BYTES): the kept
   * results go without theirs, so a jobstore of 1000 jobs stays small; an older one's archive is
   * read from its HA record when asked for.
   */
  readonly #archives: LruCache<string, JobHistoryArchive>;
  readonly #expired = new LruCache<string, true>(REMEMBERED_EXPIRED);
  readonly #counts: Record<EndedState, number> = { FINISHED: 0, CANCELED: 0, FAILED: 0 };
  readonly #clock: Clock;
  /** Removes an expired job's records from the HA stores (best effort: the next term retries). */
  readonly #forget: (jobId: string) => Promise<void>;
  readonly #log: Logger;

  constructor(
    { maxCapacity = 1000, expirationMs = 3_600_000, retainedResults = 50 }: JobStoreOptions,
    { clock, forget, log }: { clock: Clock; forget: (jobId: string) => Promise<void>; log: Logger },
  ) {
    this.maxCapacity = maxCapacity;
    this.expirationMs = expirationMs;
    this.#retainedResults = Math.max(1, Math.min(retainedResults, maxCapacity));
    this.#leftovers = new LruCache(this.#retainedResults);
    this.#archives = new LruCache(this.#retainedResults);
    this.#clock = clock;
    this.#forget = forget;
    this.#log = log;
  }

  /** Takes what the HA store holds (earliest end first), then expires past the bounds. */
  load(results: readonly JobResultRecord[]): void {
    for (const result of results) if (!this.#results.has(result.jobId)) this.#insert(result);
  }

  /** A job ended here: kept, with what it left, and the oldest past the bounds go (`expire`). */
  add(result: JobResultRecord, leftovers: EndedLeftovers): void {
    const previous = this.#results.get(result.jobId);
    if (previous) {
      this.#results.delete(result.jobId);
      this.#counts[previous.state]--;
    }
    this.#insert(result);
    this.#leftovers.set(result.jobId, leftovers);
    this.expire();
  }

  get(jobId: string): JobResultRecord | undefined {
    return this.#results.get(jobId);
  }

  /** The job's history archive if it is among the newest; undefined: read its HA record. */
  archive(jobId: string): JobHistoryArchive | undefined {
    return this.#archives.get(jobId);
  }

  leftovers(jobId: string): EndedLeftovers | undefined {
    return this.#leftovers.get(jobId);
  }

  /** Whether this jobstore forgot the job (it ended, then expired). */
  wasExpired(jobId: string): boolean {
    return this.#expired.has(jobId);
  }

  get size(): number {
    return this.#results.size;
  }

  counts(): Readonly<Record<EndedState, number>> {
    return this.#counts;
  }

  /** Every kept result, earliest end first (at most `maxCapacity` plus what one run has left). */
  list(): IterableIterator<JobResultRecord> {
    return this.#results.values();
  }

  /**
   * Forgets the jobs past the capacity (oldest first) and those ended longer ago than the
   * expiration, at most `MAX_EXPIRED_PER_RUN`: the jobs it forgot.
   */
  expire(): string[] {
    const deadline = this.#clock.now() - this.expirationMs;
    const forgotten: string[] = [];
    for (const [jobId, result] of this.#results) {
      if (forgotten.length >= MAX_EXPIRED_PER_RUN) break;
      const overCapacity = this.#results.size > this.maxCapacity;
      if (!overCapacity && result.finishedAt > deadline) break;
      this.#results.delete(jobId);
      this.#counts[result.state]--;
      this.#leftovers.delete(jobId);
      this.#archives.delete(jobId);
      this.#expired.set(jobId, true);
      forgotten.push(jobId);
      this.#forget(jobId).catch((err: Error) =>
        this.#log.warn(
          { job: jobId, err: err.message },
          "forgetting an expired job's records failed",
        ),
      );
    }
    if (forgotten.length > 0) this.#log.info({ jobs: forgotten.length }, "ended jobs expired");
    return forgotten;
  }

  #insert({ history, ...result }: JobResultRecord): void {
    if (history) this.#archives.set(result.jobId, history);
    this.#results.set(result.jobId, result);
    this.#counts[result.state]++;
  }
}
