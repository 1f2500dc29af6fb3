/**
 * Contracts of components/ha: leader election with fencing tokens, and the stores a cluster
 * keeps across failovers (submitted jobs, terminal results, completed checkpoints, blobs). Each has
 * a JetStream implementation and an in-memory one behind the same interface.
 */
import type { Logger } from "../core/mod.ts";
import type { CompletedCheckpoint } from "../dataflow/internal_mod.ts";

export interface LeaderElectionOptions {
  /** What is led: "dispatcher", "resourcemanager", "master". */
  role: string;
  /** Who contends: an instance id, unique per process. */
  holder: string;
  /** Where the holder serves as leader (its NATS subject), for clients. @default "" */
  subject?: string;
  /** How long a lease lasts without renewal. @default 3000 */
  leaseMs?: number;
  /**
   * How often the leader renews (well under leaseMs, so one lost renewal is not fatal).
   * @default a third of leaseMs (1000 for the default lease)
   */
  renewMs?: number;
  /**
   * The lease this role's leadership lives under (the `auto` role's `master`), written into the
   * lease. While `held()` says this process holds that outer lease, a lease of the role written
   * under the same outer lease is taken over at once instead of when it runs out: its holder's
   * term ended when the outer lease left it (its blocks are fenced by the outer lease).
   */
  under?: { lease: string; held(): boolean };
  log?: Logger;
}

/** Who leads a role now, as written in its lease. */
export interface LeaderInfo {
  holder: string;
  /** Where the leader serves (its NATS subject). */
  subject: string;
  /** Counts leaderships of this role (informational; `token` is the one to fence with). */
  term: number;
  /** The fencing token: the KV revision of the write that won this term. Grows with every term. */
  token: number;
  /** Wall-clock end of the lease as the leader wrote it (epoch ms). */
  expiresAt: number;
}

export interface LeaderCallbacks {
  /** This contender leads now; send `token` with every fenced call. */
  onElected(token: number): void;
  /**
   * This contender no longer leads: stop acting as leader at once. Fires before the lease ends
   * when renewals fail, when another contender took the lease, and on `stop()`.
   */
  onRevoked(reason: string): void;
}

/** Proof of leadership that a fenced write checks right before it writes. */
export interface LeaderFence {
  readonly role: string;
  readonly token: number;
  /** Resolves if `token` still holds the lease; STALE_LEADER otherwise. */
  check(): Promise<void>;
}

export interface StopOptions {
  /**
   * Delete the lease (if still ours) so a standby takes over at once. `false` just stops renewing,
   * as a crashed process would: standbys take over when the lease runs out. @default true
   */
  resign?: boolean;
}

export interface LeaderElection {
  readonly role: string;
  readonly holder: string;
  /** Starts contending; callbacks fire from then on, possibly many times over the lifetime. */
  start(callbacks: LeaderCallbacks): void;
  /** True only while the lease is held and not past its (local) deadline. */
  isLeader(): boolean;
  /** The fencing token while leading; undefined otherwise. */
  token(): number | undefined;
  /** A fence for writes made as leader. Throws STALE_LEADER when not leading. */
  fence(): LeaderFence;
  /** Who leads the role now (undefined when nobody holds a live lease), for any client. */
  leader(): Promise<LeaderInfo | undefined>;
  /**
   * Resolves once this contender watches the lease, so a resign reaches it at once instead of
   * when the lease would have run out (after a lost connection: once the watch is back). Rejects
   * with TIMEOUT after `timeoutMs` (@default the lease length), or when stopped first.
   */
  watching(timeoutMs?: number): Promise<void>;
  /** Stops contending (steps down first if leading). */
  stop(options?: StopOptions): Promise<void>;
}

/** Options of writes a leader makes. */
export interface WriteOptions {
  /** Refuse the write with STALE_LEADER unless this fence still holds. */
  fence?: LeaderFence;
}

/** A submitted job, as the Dispatcher persists it to recover it after a failover. */
export interface SubmittedJob {
  jobId: string;
  name: string;
  /** sha256 (hex) of the job's bundle in the blob store. */
  artifact: string;
  args: Record<string, string>;
  parallelism?: number;
  /** Savepoint path to start from. */
  savepoint?: string;
  /** The job's own secrets (`env.secret`), kept for the next leader's JobManager. */
  secrets?: Record<string, string>;
  /**
   * Per-vertex parallelism bounds set through PUT /jobs/:id/resource-requirements (adaptive
   * jobs), as Flink keeps them with the job graph: a recovered job keeps them.
   */
  resourceRequirements?: Record<
    string,
    { parallelism: { lowerBound: number; upperBound: number } }
  >;
  /** Epoch ms. */
  submittedAt: number;
}

export const JobResultState = {
  FINISHED: "FINISHED",
  FAILED: "FAILED",
  CANCELED: "CANCELED",
} as const;
export type JobResultState = (typeof JobResultState)[keyof typeof JobResultState];

/** How a job ended; written once, before the job's other HA data is deleted. */
export interface JobResultEntry {
  jobId: string;
  state: JobResultState;
  error?: { code: string; message: string };
  /** Epoch ms. */
  finishedAt: number;
  /** Anything else worth keeping (name, restarts, savepoint, ...); must be JSON. */
  [extra: string]: unknown;
}

export interface JobGraphStore {
  readonly location: string;
  /** Stores (or replaces) a job. */
  put(job: SubmittedJob, options?: WriteOptions): Promise<void>;
  /** NOT_FOUND when there is no such job. */
  get(jobId: string): Promise<SubmittedJob>;
  find(jobId: string): Promise<SubmittedJob | undefined>;
  /** Every stored job, oldest submission first. */
  list(): Promise<SubmittedJob[]>;
  /** Removes a job; removing an unknown one is not an error (removes are retried). */
  remove(jobId: string, options?: WriteOptions): Promise<void>;
}

export interface JobResultStore {
  readonly location: string;
  /** Records how a job ended. CONFLICT if a different result is there already: a job ends once. */
  put(result: JobResultEntry, options?: WriteOptions): Promise<void>;
  /** NOT_FOUND when the job has no result. */
  get(jobId: string): Promise<JobResultEntry>;
  find(jobId: string): Promise<JobResultEntry | undefined>;
  /** Every result, earliest end first. */
  list(): Promise<JobResultEntry[]>;
  /**
   * Forgets a job's result (the Dispatcher's jobstore expiry); absent is fine. Only for a job
   * whose graph is gone from the job graph store: the result is what keeps it from starting again.
   */
  remove(jobId: string, options?: WriteOptions): Promise<void>;
}

export interface CompletedCheckpointStore {
  readonly location: string;
  /** How many checkpoints per job are kept; adding more drops the oldest. */
  readonly retained: number;
  add(checkpoint: CompletedCheckpoint, options?: WriteOptions): Promise<void>;
  /** The checkpoint with the highest id, or undefined. */
  latest(jobId: string): Promise<CompletedCheckpoint | undefined>;
  /** The kept checkpoints, ascending by id. */
  list(jobId: string): Promise<CompletedCheckpoint[]>;
  removeJob(jobId: string, options?: WriteOptions): Promise<void>;
}

export interface BlobStore {
  readonly location: string;
  /** Stores content-addressed: returns the sha256 (lower-case hex) of `bytes`, its key. */
  put(bytes: Uint8Array): Promise<string>;
  /** Stores (or replaces) `bytes` under a key of the caller's choosing. */
  putKey(key: string, bytes: Uint8Array): Promise<void>;
  /** NOT_FOUND when there is no such blob. */
  get(key: string): Promise<Uint8Array>;
  has(key: string): Promise<boolean>;
  /** Deletes every blob whose key starts with `prefix`; returns how many. */
  delete(prefix: string): Promise<number>;
  /** Deletes the blob `key` only, without listing the store; false when there was none. */
  deleteKey(key: string): Promise<boolean>;
  /** The blobs whose key starts with `prefix`, with size and when each was last written. */
  list(prefix?: string): Promise<BlobInfo[]>;
}

export interface BlobInfo {
  key: string;
  size: number;
  /** When it was last written, ms since the epoch. */
  modified: number;
}

/** Everything HA on one backend: what the cluster's blocks are given at start. */
export interface HaServices {
  readonly jobGraphs: JobGraphStore;
  readonly jobResults: JobResultStore;
  readonly checkpoints: CompletedCheckpointStore;
  readonly blobs: BlobStore;
  /** An election for a role on the same backend; not started yet. */
  election(options: LeaderElectionOptions): LeaderElection;
}
