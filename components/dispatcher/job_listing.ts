/**
 * `GET /jobs` one page at a time, newest first: the running, starting and kept ended jobs, with
 * the id to page after when more exist. Work per page is bounded by the jobs kept, not ever run.
 */
import {
  ErrorCode,
  FlotillaError,
  type JobEnd,
  type JobId,
  JobState,
  parseJobId,
} from "../core/mod.ts";
import type { JobRecord, JobResultRecord } from "./types.ts";

/** Each job of a page, newest first (`GET /jobs` answers its id and state, Flink's JobIdWithStatus). */
export interface JobSummary {
  id: JobId;
  name: string;
  state: JobState;
  submittedAt: number;
  finishedAt?: number;
}

/** One page of jobs and where the next starts. */
export interface JobPage {
  jobs: JobSummary[];
  /** Pass as `after` for the next page; absent on the last. */
  next?: JobId;
}

export interface JobPageRequest {
  /** @default 100 */
  limit?: number;
  /** The last job of the previous page. */
  after?: string;
}

export const DEFAULT_JOBS_PAGE = 100;

/** A job to list, before the live ones' states are asked for (only those on the page). */
export type Listed =
  | { kind: "live"; record: JobRecord; state: () => Promise<JobState> }
  | { kind: "starting"; record: JobRecord }
  | { kind: "ended"; result: JobResultRecord };

const submittedAt = (job: Listed) =>
  job.kind === "ended" ? job.result.submittedAt : job.record.submittedAt;
const idOf = (job: Listed) => (job.kind === "ended" ? job.result.jobId : job.record.jobId);

/** Newest first; ties (one millisecond) by id, so pages never skip or repeat a job. */
function newestFirst(a: Listed, b: Listed): number {
  return submittedAt(b) - submittedAt(a) || (idOf(a) < idOf(b) ? 1 : idOf(a) > idOf(b) ? -1 : 0);
}

export async function jobPage(
  listed: Listed[],
  { limit = DEFAULT_JOBS_PAGE, after }: JobPageRequest,
): Promise<JobPage> {
  const sorted = listed.sort(newestFirst);
  let start = 0;
  if (after !== undefined) {
    const at = sorted.findIndex((job) => idOf(job) === after);
    if (at < 0)
      throw new FlotillaError(
        ErrorCode.BAD_REQUEST,
        `after=${after}: this cluster no longer lists that job (it expired from the jobstore): list again from the first page`,
      );
    start = at + 1;
  }
  const page = sorted.slice(start, start + limit);
  const jobs = await Promise.all(page.map(summary));
  const last = page.at(-1);
  return {
    jobs,
    ...(last && start + limit < sorted.length ? { next: parseJobId(idOf(last)) } : {}),
  };
}

async function summary(job: Listed): Promise<JobSummary> {
  switch (job.kind) {
    case "live":
      return {
        id: parseJobId(job.record.jobId),
        name: job.record.name,
        state: await job.state(),
        submittedAt: job.record.submittedAt,
      };
    case "starting":
      return {
        id: parseJobId(job.record.jobId),
        name: job.record.name,
        state: JobState.CREATED,
        submittedAt: job.record.submittedAt,
      };
    case "ended":
      return {
        id: parseJobId(job.result.jobId),
        name: job.result.name,
        state: job.result.state,
        submittedAt: job.result.submittedAt,
        finishedAt: job.result.finishedAt,
      };
  }
}

/** Most running jobs one count asks for their state; the others count as last seen. */
export const MAX_STATE_CALLS = 64;

const lastAsked = new WeakMap<object, number>();
let asks = 0;

/**
 * Jobs by state with bounded work: the running ones least recently asked (at most
 * `MAX_STATE_CALLS`) are asked with `refresh`, the rest counted as last seen. Totals are exact
 * (a job leaves the running ones when it ends); only which live state a job is in may lag.
 */
export async function countByState<J extends { lastState: JobState }>(
  live: readonly J[],
  refresh: (job: J) => Promise<JobState>,
  starting: number,
  ended: Readonly<Record<JobEnd, number>>,
): Promise<Record<JobState, number>> {
  const counts = Object.fromEntries(Object.values(JobState).map((state) => [state, 0])) as Record<
    JobState,
    number
  >;
  const stalest = [...live]
    .sort((a, b) => (lastAsked.get(a) ?? -1) - (lastAsked.get(b) ?? -1))
    .slice(0, MAX_STATE_CALLS);
  await Promise.all(
    stalest.map((job) => {
      lastAsked.set(job, ++asks);
      return refresh(job);
    }),
  );
  for (const job of live) counts[job.lastState]++;
  counts[JobState.CREATED] += starting;
  counts[JobState.FINISHED] += ended.FINISHED;
  counts[JobState.CANCELED] += ended.CANCELED;
  counts[JobState.FAILED] += ended.FAILED;
  return counts;
}
