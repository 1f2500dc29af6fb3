/**
 * The submitted-job store: what the Dispatcher persists on submission (`jobs.<jobId>`, JSON) and
 * recovers after a failover. One implementation over `HaKv`; JetStream and memory factories.
 */
import { ErrorCode, InvalidArgumentError, jobKey, KeyPrefix, NotFoundError } from "../core/mod.ts";
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
} from "./records.ts";
import type { JobGraphStore, SubmittedJob, WriteOptions } from "./types.ts";

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function kvJobGraphStore(kv: HaKv): JobGraphStore {
  const find = async (jobId: string): Promise<SubmittedJob | undefined> => {
    const key = jobKey(KeyPrefix.JOBS, requireString(jobId, "job id"));
    const record = await kv.get(key);
    return record && decodeRecord<SubmittedJob>(record.value, key, kv.location);
  };
  return {
    location: kv.location,
    async put(job: SubmittedJob, options?: WriteOptions): Promise<void> {
      const bytes = encodeRecord(checkJob(job));
      await checkFence(options);
      await kv.put(jobKey(KeyPrefix.JOBS, job.jobId), bytes);
    },
    async get(jobId: string): Promise<SubmittedJob> {
      const job = await find(jobId);
      if (!job) {
        throw new NotFoundError(
          ErrorCode.NOT_FOUND,
          `no submitted job ${jobId} in ${kv.location}: it was never submitted or was removed`,
        );
      }
      return job;
    },
    find,
    async list(): Promise<SubmittedJob[]> {
      const records = await listRecords<SubmittedJob>(kv, KeyPrefix.JOBS);
      return records
        .map((r) => r.value)
        .sort((a, b) => a.submittedAt - b.submittedAt || a.jobId.localeCompare(b.jobId));
    },
    async remove(jobId: string, options?: WriteOptions): Promise<void> {
      const key = jobKey(KeyPrefix.JOBS, requireString(jobId, "job id"));
      await checkFence(options);
      await kv.forget(key);
    },
  };
}

/** The store on the cluster's JetStream KV bucket. */
export async function natsJobGraphStore(options: NatsHaOptions): Promise<JobGraphStore> {
  return kvJobGraphStore(await openNatsKv(options));
}

export function memoryJobGraphStore(options?: MemoryKvOptions): JobGraphStore {
  return kvJobGraphStore(new MemoryKv(options));
}

function checkJob(job: SubmittedJob): SubmittedJob {
  if (typeof job !== "object" || job === null) {
    throw new InvalidArgumentError(`a submitted job must be an object, got ${JSON.stringify(job)}`);
  }
  const { jobId, name, artifact, args, parallelism, savepoint, submittedAt } = job;
  requireString(jobId, "job id");
  requireString(name, `name of job ${jobId}`);
  if (typeof artifact !== "string" || !SHA256_HEX.test(artifact)) {
    throw new InvalidArgumentError(
      `artifact of job ${jobId} must be the sha256 (64 lower-case hex digits) of its bundle in the blob store, got ${JSON.stringify(artifact)}`,
    );
  }
  if (
    typeof args !== "object" ||
    args === null ||
    Object.values(args).some((v) => typeof v !== "string")
  ) {
    throw new InvalidArgumentError(
      `args of job ${jobId} must map names to strings, got ${JSON.stringify(args)}`,
    );
  }
  if (parallelism !== undefined && !(Number.isSafeInteger(parallelism) && parallelism > 0)) {
    throw new InvalidArgumentError(
      `parallelism of job ${jobId} must be a positive integer, got ${JSON.stringify(parallelism)}`,
    );
  }
  if (savepoint !== undefined) requireString(savepoint, `savepoint of job ${jobId}`);
  const { secrets } = job;
  if (
    secrets !== undefined &&
    (typeof secrets !== "object" ||
      secrets === null ||
      Object.values(secrets).some((v) => typeof v !== "string"))
  ) {
    // Never the values themselves in an error: names only.
    throw new InvalidArgumentError(
      `secrets of job ${jobId} must map names to strings (names: ${Object.keys(secrets ?? {}).join(", ")})`,
    );
  }
  const bounds = Object.entries(job.resourceRequirements ?? {});
  const positive = (n: unknown) => Number.isSafeInteger(n) && (n as number) > 0;
  for (const [vertex, entry] of bounds) {
    const p = entry?.parallelism;
    if (!p || !positive(p.lowerBound) || !positive(p.upperBound))
      throw new InvalidArgumentError(
        `resourceRequirements of job ${jobId}: vertex '${vertex}' needs {parallelism: {lowerBound, upperBound}} with positive integers, got ${JSON.stringify(entry)}`,
      );
  }
  requireTime(submittedAt, `submittedAt of job ${jobId}`);
  return job;
}
