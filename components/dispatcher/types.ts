/**
 * The Dispatcher's contracts: what it keeps about jobs (the stores it needs; components/ha
 * provides them over JetStream and in memory) and the REST request bodies.
 */
import { z } from "zod";
import type { CompletedCheckpoint, SnapshotStore } from "../dataflow/internal_mod.ts";
import type { SubmittedJob } from "../ha/mod.ts";

/** A submitted job, as the job-graph store keeps it: enough to start it again after a failover. */
export type JobRecord = SubmittedJob;

/** A job's end, written before its other HA data is removed, so it is never started again. */
export interface JobResultRecord {
  jobId: string;
  name: string;
  state: "finished" | "canceled" | "failed";
  error?: { code: string; message: string };
  restarts: number;
  /** Parallelism changes by the adaptive scheduler. */
  rescales?: number;
  checkpoints: number;
  savepoint?: string;
  submittedAt: number;
  finishedAt: number;
}

export interface DispatcherStores {
  blobs: {
    put(bytes: Uint8Array): Promise<string>;
    get(key: string): Promise<Uint8Array | undefined>;
    has(key: string): Promise<boolean>;
  };
  jobs: {
    put(record: JobRecord): Promise<void>;
    list(): Promise<JobRecord[]>;
    remove(jobId: string): Promise<void>;
  };
  results: {
    put(result: JobResultRecord): Promise<void>;
    get(jobId: string): Promise<JobResultRecord | undefined>;
    list(): Promise<JobResultRecord[]>;
  };
  checkpoints: {
    add(checkpoint: CompletedCheckpoint): Promise<void>;
    latest(jobId: string): Promise<CompletedCheckpoint | undefined>;
    removeJob(jobId: string): Promise<void>;
  };
  snapshots: SnapshotStore;
}

export const jobIdParam = z.object({
  jobId: z
    .string()
    .regex(/^[0-9a-f]{32}$/, "a job id is 32 lowercase hex digits, as `flotilla list` prints"),
});

export const artifactParam = z.object({
  artifact: z.string().regex(/^[0-9a-f]{64}$/, "an artifact id is the sha256 of its bytes"),
});

export const submitSchema = z.strictObject({
  /** sha256 of an artifact uploaded with POST /artifacts. */
  artifact: z.string().regex(/^[0-9a-f]{64}$/, "the sha256 that POST /artifacts returned"),
  args: z.record(z.string(), z.string()).default({}),
  parallelism: z.number().int().min(1).max(32768).optional(),
  /** A savepoint path to start from. */
  savepoint: z.string().min(1).optional(),
});

export const cancelQuery = z.strictObject({ mode: z.enum(["cancel"]) });
export const stopSchema = z.strictObject({ savepoint: z.boolean().default(true) });
