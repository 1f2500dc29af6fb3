/**
 * What the Dispatcher keeps and what it runs on: its HA records and the stores it needs
 * (components/ha provides them over JetStream and in memory), and the narrow part of a fabric
 * its JobManagers live on. Its REST messages are its contract, in components/protocol.
 */
import type { JobEnd } from "../core/mod.ts";
import type { CompletedCheckpoint, SnapshotStore } from "../dataflow/internal_mod.ts";
import type { BlobInfo, SubmittedJob } from "../ha/mod.ts";
import type { JobHistoryArchive } from "../protocol/mod.ts";
import type { FetchApp, Transport } from "../rpc/mod.ts";

/** A submitted job, as the job-graph store keeps it: enough to start it again after a failover. */
export type JobRecord = SubmittedJob;

/** A job's end, written before its other HA data is removed, so it is never started again. */
export interface JobResultRecord {
  jobId: string;
  name: string;
  state: JobEnd;
  error?: { code: string; message: string };
  restarts: number;
  /** Parallelism changes by the adaptive scheduler. */
  rescales?: number;
  checkpoints: number;
  savepoint?: string;
  submittedAt: number;
  finishedAt: number;
  /**
   * What its JobManager recorded (checkpoint statistics, exception history, state times, the
   * vertices), bounded to JOB_HISTORY_ARCHIVE_MAX_BYTES so the record stays one small KV value:
   * what the finished job's checkpoint, exception and vertex pages answer from.
   */
  history?: JobHistoryArchive;
}

export interface DispatcherStores {
  blobs: {
    put(bytes: Uint8Array): Promise<string>;
    get(key: string): Promise<Uint8Array | undefined>;
    has(key: string): Promise<boolean>;
    /** Blobs whose key starts with `prefix` (artifacts are the 64-hex keys). */
    list(prefix?: string): Promise<BlobInfo[]>;
    /** Deletes one blob; absent is fine. */
    remove(key: string): Promise<void>;
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
    /** Forgets an expired job's result (its graph record is removed first). */
    remove(jobId: string): Promise<void>;
  };
  checkpoints: {
    add(checkpoint: CompletedCheckpoint): Promise<void>;
    latest(jobId: string): Promise<CompletedCheckpoint | undefined>;
    removeJob(jobId: string): Promise<void>;
  };
  snapshots: SnapshotStore;
}

/** A subject being served; `stop` ends it. */
export interface Serving {
  stop(): Promise<void>;
}

/**
 * What the Dispatcher needs of the fabric it runs on (cluster/fabric.ts's `Fabric` is one): to
 * serve a JobManager on its subject and to reach any block's subject. Nothing more, so the
 * Dispatcher does not depend on how a cluster is woven.
 */
export interface JobManagerFabric {
  transportFor(subject: string): Transport;
  serve(subject: string, app: FetchApp): Serving;
}
