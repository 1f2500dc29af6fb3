/**
 * The TaskManager's options in two stages: `TaskManagerOptions` (what a caller passes) ->
 * `compileTaskManagerOptions()` (ids parsed, defaults filled, timing validated once).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import {
  checkDurations,
  checkHeartbeat,
  type Logger,
  newTaskManagerId,
  parseTaskManagerId,
  silentLogger,
  type TaskManagerId,
} from "../core/mod.ts";
import type { ChannelFactory, SnapshotStore } from "../dataflow/internal_mod.ts";
import type { ResourceProfile } from "../protocol/mod.ts";
import type { CallDeadlines, FencingTokenVerifier, Transport } from "../rpc/mod.ts";
import type { ArtifactSource } from "./job_graphs.ts";
import type { JobProcesses } from "./job_process/job_processes.ts";

export interface TaskManagerOptions {
  clusterId: string;
  /** @default a fresh `tm-<hex>` id */
  tmId?: string;
  /** How this TaskManager reaches other blocks by subject (NATS, or in-process). */
  transportFor(subject: string): Transport;
  /** The data-plane channels of one job attempt. */
  channelsFor(jobId: string, attempt: number): ChannelFactory;
  /** Where job artifacts are (by sha256). */
  artifacts: ArtifactSource;
  /** Where task snapshots go and come from. */
  snapshots: SnapshotStore;
  /** One profile per slot. @default one slot with no declared resources */
  slots?: ResourceProfile[];
  /** What the whole TaskManager offers. @default the sum of the slots */
  totalResources?: ResourceProfile;
  /**
   * Opens a new NATS connection for a job's sources and sinks: to `servers`, or to the
   * cluster's NATS as the job's user (never this TaskManager's own connection). The TaskManager
   * keeps one per job and server list and closes it when the job leaves.
   */
  connectNats?(servers?: string): Promise<NatsConnection>;
  /**
   * Where its subtasks run: in a process per job (`taskmanager.job-process: process`, so job
   * code never shares this process or its credentials). @default in this process
   */
  jobProcesses?: JobProcesses;
  /**
   * Deadlines of its calls to the ResourceManager and JobManagers (`rpc.timeout`,
   * `rpc.attempt-timeout`). @default `{ timeoutMs: 5000, attemptTimeoutMs: 1000 }`
   */
  rpc?: CallDeadlines;
  /**
   * How often it heartbeats the RM and each job's JobManager (`heartbeat.interval`); also the
   * deadline of one heartbeat. @default 1000
   */
  heartbeatIntervalMs?: number;
  /**
   * Silence after which the RM or a JobManager counts as lost (`heartbeat.timeout`); also how
   * long a slot offer or a report to a JobManager is tried. @default 5000
   */
  heartbeatTimeoutMs?: number;
  /**
   * Confirms a ResourceManager token higher than any seen (scope `RM_FENCING_SCOPE`) against
   * the RM's lease in the HA store, so a made-up token is refused instead of locking the real
   * RM out. @default none: every newer token is believed (in-process blocks, tests)
   */
  verifyFencingToken?: FencingTokenVerifier;
  log?: Logger;
}

export interface CompiledTaskManagerOptions
  extends Readonly<
    Required<
      Omit<
        TaskManagerOptions,
        "tmId" | "connectNats" | "totalResources" | "slots" | "verifyFencingToken" | "jobProcesses"
      >
    >
  > {
  readonly tmId: TaskManagerId;
  readonly slots: readonly ResourceProfile[];
  readonly totalResources: ResourceProfile;
  readonly connectNats?: (servers?: string) => Promise<NatsConnection>;
  readonly verifyFencingToken?: FencingTokenVerifier;
  readonly jobProcesses?: JobProcesses;
}

/** Declares no resources: every requirement fits it (the RM's ANY profile). */
const ANY: ResourceProfile = { cpu: 0, memoryMb: 0, extended: {} };

export function sumProfiles(profiles: readonly ResourceProfile[]): ResourceProfile {
  const extended: Record<string, number> = {};
  for (const p of profiles)
    for (const [k, v] of Object.entries(p.extended)) extended[k] = (extended[k] ?? 0) + v;
  return {
    cpu: profiles.reduce((n, p) => n + p.cpu, 0),
    memoryMb: profiles.reduce((n, p) => n + p.memoryMb, 0),
    extended,
  };
}

export function compileTaskManagerOptions({
  tmId,
  slots = [ANY],
  totalResources = sumProfiles(slots),
  rpc = { timeoutMs: 5000, attemptTimeoutMs: 1000 },
  heartbeatIntervalMs = 1000,
  heartbeatTimeoutMs = 5000,
  log = silentLogger,
  ...rest
}: TaskManagerOptions): CompiledTaskManagerOptions {
  const timing = {
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    "rpc.timeoutMs": rpc.timeoutMs,
    "rpc.attemptTimeoutMs": rpc.attemptTimeoutMs,
  };
  checkDurations("TaskManager", timing);
  checkHeartbeat(heartbeatIntervalMs, heartbeatTimeoutMs, "JobManager");
  return {
    ...rest,
    tmId: tmId === undefined ? newTaskManagerId() : parseTaskManagerId(tmId),
    slots,
    totalResources,
    rpc,
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    log,
  };
}
