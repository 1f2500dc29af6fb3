/**
 * The job result store: how each job ended (`results.<jobId>`, JSON), written once with `create`
 * so a finished or cancelled job can never be revived or ended twice. Written before the job's
 * other HA data is removed; removed only when the Dispatcher's jobstore expires the job.
 */
import {
  ErrorCode,
  FlotillaError,
  InvalidArgumentError,
  jobKey,
  KeyPrefix,
  NotFoundError,
} from "../core/mod.ts";
import type { HaKv } from "./kv.ts";
import { MemoryKv, type MemoryKvOptions } from "./memory_kv.ts";
import { type NatsHaOptions, openNatsKv } from "./nats_kv.ts";
import {
  checkFence,
  decodeRecord,
  encodeRecord,
  listRecords,
  requireString,
  requireTime,
  sameBytes,
} from "./records.ts";
import {
  type JobResultEntry,
  JobResultState,
  type JobResultStore,
  type WriteOptions,
} from "./types.ts";

const STATES = new Set<string>(Object.values(JobResultState));

export function kvJobResultStore(kv: HaKv): JobResultStore {
  const find = async (jobId: string): Promise<JobResultEntry | undefined> => {
    const key = jobKey(KeyPrefix.RESULTS, requireString(jobId, "job id"));
    const record = await kv.get(key);
    return record && decodeRecord<JobResultEntry>(record.value, key, kv.location);
  };
  return {
    location: kv.location,
    async put(result: JobResultEntry, options?: WriteOptions): Promise<void> {
      const bytes = encodeRecord(checkResult(result));
      const key = jobKey(KeyPrefix.RESULTS, result.jobId);
      await checkFence(options);
      try {
        await kv.create(key, bytes);
        return;
      } catch (err) {
        if (!(err instanceof FlotillaError && err.code === ErrorCode.CONFLICT)) throw err;
      }
      // A retried put whose first attempt landed finds its own result: that is success.
      const existing = await kv.get(key);
      if (existing && sameBytes(existing.value, bytes)) return;
      const ended = existing && decodeRecord<JobResultEntry>(existing.value, key, kv.location);
      throw new FlotillaError(
        ErrorCode.CONFLICT,
        `job ${result.jobId} already ended (${ended?.state ?? "unknown"} at ${ended ? new Date(ended.finishedAt).toISOString() : "?"}); a job ends once, so its result stays`,
      );
    },
    async get(jobId: string): Promise<JobResultEntry> {
      const result = await find(jobId);
      if (!result) {
        throw new NotFoundError(
          ErrorCode.NOT_FOUND,
          `no result for job ${jobId} in ${kv.location}: it has not ended (or never existed)`,
        );
      }
      return result;
    },
    find,
    async list(): Promise<JobResultEntry[]> {
      const records = await listRecords<JobResultEntry>(kv, KeyPrefix.RESULTS);
      return records
        .map((r) => r.value)
        .sort((a, b) => a.finishedAt - b.finishedAt || a.jobId.localeCompare(b.jobId));
    },
    async remove(jobId: string, options?: WriteOptions): Promise<void> {
      const key = jobKey(KeyPrefix.RESULTS, requireString(jobId, "job id"));
      await checkFence(options);
      await kv.forget(key);
    },
  };
}

/** The store on the cluster's JetStream KV bucket. */
export async function natsJobResultStore(options: NatsHaOptions): Promise<JobResultStore> {
  return kvJobResultStore(await openNatsKv(options));
}

export function memoryJobResultStore(options?: MemoryKvOptions): JobResultStore {
  return kvJobResultStore(new MemoryKv(options));
}

function checkResult(result: JobResultEntry): JobResultEntry {
  if (typeof result !== "object" || result === null) {
    throw new InvalidArgumentError(`a job result must be an object, got ${JSON.stringify(result)}`);
  }
  const { jobId, state, error, finishedAt } = result;
  requireString(jobId, "job id");
  if (!STATES.has(state)) {
    throw new InvalidArgumentError(
      `state of job ${jobId}'s result must be one of ${[...STATES].join(", ")}, got ${JSON.stringify(state)}`,
    );
  }
  if (
    error !== undefined &&
    (typeof error !== "object" ||
      error === null ||
      typeof error.code !== "string" ||
      typeof error.message !== "string")
  ) {
    throw new InvalidArgumentError(
      `error of job ${jobId}'s result must be {code, message}, got ${JSON.stringify(error)}`,
    );
  }
  requireTime(finishedAt, `finishedAt of job ${jobId}'s result`);
  return result;
}
