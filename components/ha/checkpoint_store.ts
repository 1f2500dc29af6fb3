/**
 * The completed-checkpoint store: the pointers a new JobManager leader restores from
 * (`checkpoints.<jobId>.<checkpointId>`, the runtime's CompletedCheckpoint as JSON), keeping the
 * latest `retained` per job. The snapshots themselves live in the blob store.
 */
import { checkpointKey, InvalidArgumentError, jobKey, KeyPrefix } from "../core/mod.ts";
import type { CompletedCheckpoint } from "../dataflow/internal_mod.ts";
import type { HaKv } from "./kv.ts";
import { MemoryKv, type MemoryKvOptions } from "./memory_kv.ts";
import { type NatsHaOptions, openNatsKv } from "./nats_kv.ts";
import { checkFence, decodeRecord, encodeRecord, requireString } from "./records.ts";
import type { CompletedCheckpointStore, WriteOptions } from "./types.ts";

export interface CheckpointStoreOptions {
  /** Checkpoints kept per job; adding one more drops the oldest. @default 3 */
  retained?: number;
}

export function kvCompletedCheckpointStore(
  kv: HaKv,
  { retained = 3 }: CheckpointStoreOptions = {},
): CompletedCheckpointStore {
  if (!(Number.isSafeInteger(retained) && retained > 0)) {
    throw new InvalidArgumentError(
      `checkpoint store: retained must be a positive integer, got ${JSON.stringify(retained)}`,
    );
  }
  /** The stored checkpoint ids of a job with their keys, ascending. */
  const ids = async (jobId: string): Promise<Array<{ id: number; key: string }>> => {
    const prefix = jobKey(KeyPrefix.CHECKPOINTS, requireString(jobId, "job id"));
    const keys = await kv.keys(prefix);
    return keys
      .map((key) => ({ id: Number(key.slice(prefix.length + 1)), key }))
      .filter(({ id }) => Number.isSafeInteger(id))
      .sort((a, b) => a.id - b.id);
  };
  // The ids this process stored per job, ascending: an add deletes past `retained` from these,
  // without listing the bucket (a NATS KV listing walks every key ever written under the prefix,
  // deleted ones too: at a checkpoint every 200 ms it grew until it starved the lease renewals).
  const stored = new Map<string, Array<{ id: number; key: string }>>();
  const read = async (key: string): Promise<CompletedCheckpoint | undefined> => {
    const record = await kv.get(key);
    return record && decodeRecord<CompletedCheckpoint>(record.value, key, kv.location);
  };
  return {
    location: kv.location,
    retained,
    async add(checkpoint: CompletedCheckpoint, options?: WriteOptions): Promise<void> {
      const bytes = encodeRecord(checkCheckpoint(checkpoint));
      await checkFence(options);
      const key = checkpointKey(checkpoint.jobId, checkpoint.checkpointId);
      await kv.put(key, bytes);
      let kept = stored.get(checkpoint.jobId);
      if (!kept) {
        kept = await ids(checkpoint.jobId);
        stored.set(checkpoint.jobId, kept);
      } else if (!kept.some((k) => k.key === key)) {
        kept.push({ id: checkpoint.checkpointId, key });
        kept.sort((a, b) => a.id - b.id);
      }
      for (const old of kept.splice(0, Math.max(0, kept.length - retained))) {
        await kv.forget(old.key);
      }
    },
    async latest(jobId: string): Promise<CompletedCheckpoint | undefined> {
      const kept = await ids(jobId);
      // Newest first: one deleted meanwhile (by a concurrent add) falls back to the one before.
      for (let i = kept.length - 1; i >= 0; i--) {
        const checkpoint = await read(kept[i]!.key);
        if (checkpoint) return checkpoint;
      }
      return undefined;
    },
    async list(jobId: string): Promise<CompletedCheckpoint[]> {
      const kept = await ids(jobId);
      const checkpoints = await Promise.all(kept.map(({ key }) => read(key)));
      return checkpoints.filter((c): c is CompletedCheckpoint => c !== undefined);
    },
    async removeJob(jobId: string, options?: WriteOptions): Promise<void> {
      stored.delete(jobId);
      const kept = await ids(jobId);
      await checkFence(options);
      for (const { key } of kept) await kv.forget(key);
    },
  };
}

/** The store on the cluster's JetStream KV bucket. */
export async function natsCompletedCheckpointStore(
  options: NatsHaOptions & CheckpointStoreOptions,
): Promise<CompletedCheckpointStore> {
  return kvCompletedCheckpointStore(await openNatsKv(options), options);
}

export function memoryCompletedCheckpointStore(
  options: MemoryKvOptions & CheckpointStoreOptions = {},
): CompletedCheckpointStore {
  return kvCompletedCheckpointStore(new MemoryKv(options), options);
}

function checkCheckpoint(checkpoint: CompletedCheckpoint): CompletedCheckpoint {
  if (typeof checkpoint !== "object" || checkpoint === null) {
    throw new InvalidArgumentError(
      `a completed checkpoint must be an object, got ${JSON.stringify(checkpoint)}`,
    );
  }
  const { jobId, checkpointId, vertices } = checkpoint;
  requireString(jobId, "job id of a checkpoint");
  if (!(Number.isSafeInteger(checkpointId) && checkpointId >= 0)) {
    throw new InvalidArgumentError(
      `checkpoint id of job ${jobId} must be a non-negative integer, got ${JSON.stringify(checkpointId)}`,
    );
  }
  if (typeof vertices !== "object" || vertices === null) {
    throw new InvalidArgumentError(
      `checkpoint ${checkpointId} of job ${jobId} has no vertices map; pass the runtime's CompletedCheckpoint`,
    );
  }
  return checkpoint;
}
