/**
 * One job's JobManager as the Dispatcher runs it (Flink's JobManagerRunner): created and served
 * in this process, its end awaited, suspended when leadership is lost. Everything else the
 * Dispatcher asks of it goes through a typed client of its contract, as from any other block.
 */
import {
  ErrorCode,
  FlotillaError,
  JobState,
  type Logger,
  parseJobId,
  subjects,
} from "../core/mod.ts";
import {
  type CompletedCheckpoint,
  type JobTopology,
  topologyAt,
} from "../dataflow/internal_mod.ts";
import {
  createJobMaster,
  type JobHistoryBounds,
  type JobManagerDeadlines,
  jobManagerApp,
  type SchedulerOptions,
} from "../jobmanager/mod.ts";
import type { JobManagerControlApp, JobOutcome, JobStatus } from "../protocol/mod.ts";
import { type CallDeadlines, createClient, type RpcClient } from "../rpc/mod.ts";
import type { GraphBuilder } from "./graph_builder.ts";
import { trackJobMaster } from "./job_metrics.ts";
import type { DispatcherStores, JobManagerFabric, JobRecord } from "./types.ts";

/**
 * Attempts one leadership term's JobManager of a job may deploy before it reaches the next
 * term's range. A JobManager recovered in the term whose fencing token is `t` starts at
 * `t * ATTEMPTS_PER_TERM`; tokens only grow from term to term, so that is above every attempt an
 * earlier leader's JobManager deployed (TaskManagers cancel older attempts of a job by number).
 * 2^20 restarts or rescales in one term is hours of restarting without pause; a token stays
 * below 2^33 (the JetStream revision of a lease write), so attempts stay exact integers.
 */
export const ATTEMPTS_PER_TERM = 2 ** 20;

/** The first attempt of a job recovered in the term whose fencing token is `term`. */
export function firstAttemptOfTerm(term: number): number {
  return term * ATTEMPTS_PER_TERM;
}

/** What the coordinator allows a checkpoint of a job without periodic checkpoints (a savepoint). */
const DEFAULT_CHECKPOINT_TIMEOUT_MS = 60_000;

/** The JobManager's deadlines, every one given (from config: `jobManagerDeadlinesFrom`). */
export type Deadlines = Required<JobManagerDeadlines>;

/**
 * The deadlines of the calls that wait for a savepoint. The job's checkpoint timeout bounds a
 * savepoint (the coordinator aborts it then), so its call gets that plus one `rpc.timeout` for
 * the JobManager to answer. A stop is that savepoint and then the attempt's end: the JobManager
 * calls the TaskManagers to cancel (`rpc.timeout`) and waits for their tasks' last reports
 * (`task.cancellation.timeout`), so a stop gets both on top.
 */
export function savepointDeadlines(
  graph: JobTopology,
  { rpc, taskCancellationTimeoutMs }: Deadlines,
): { savepoint: CallDeadlines; stop: CallDeadlines } {
  const checkpointMs = graph.options.checkpointing?.timeoutMs ?? DEFAULT_CHECKPOINT_TIMEOUT_MS;
  const savepointMs = checkpointMs + rpc.timeoutMs;
  const stopMs = savepointMs + rpc.timeoutMs + taskCancellationTimeoutMs;
  // POSTs are not retried, so one attempt may take the whole deadline.
  return {
    savepoint: { timeoutMs: savepointMs, attemptTimeoutMs: savepointMs },
    stop: { timeoutMs: stopMs, attemptTimeoutMs: stopMs },
  };
}

/** A JobManager the Dispatcher runs. */
export interface JobManagerRun {
  readonly record: JobRecord;
  readonly subject: string;
  /** Resolves when the job ends; never when the JobManager is suspended. */
  readonly outcome: Promise<JobOutcome>;
  /** Status, results, cancel and resource requirements, within `rpc.timeout`. */
  readonly control: RpcClient<JobManagerControlApp>;
  /** Savepoints, within the deadline `savepointDeadlines` derives from the job. */
  readonly savepoints: RpcClient<JobManagerControlApp>;
  /** Stop, within the deadline `savepointDeadlines` derives from the job. */
  readonly stops: RpcClient<JobManagerControlApp>;
  /** The state the last status call saw, for a list when the JobManager is slow to answer. */
  lastState: JobState;
  /** The last status its JobManager answered (for `/jobs/overview` between asks). */
  lastStatus?: JobStatus;
  /** The job's graph (its plan, its vertices' max parallelism). */
  readonly topology: JobTopology;
  /** Leadership lost: the JobManager stops acting, without an outcome (the job goes on). */
  suspend(): void;
  /** Stops serving its subject (once the job ended, or after `suspend`). */
  retire(): Promise<void>;
}

export interface JobManagerSettings {
  clusterId: string;
  fabric: JobManagerFabric;
  stores: DispatcherStores;
  deadlines: Deadlines;
  slotRequestTimeoutMs: number;
  /** Most values a job's collect sinks may hand back (`collect-sink.max-records`). */
  collectMaxRecords?: number;
  /** Where the job's graph is built (the sandbox, for the roles). */
  buildGraph: GraphBuilder;
  scheduler?: SchedulerOptions;
  /** History each JobManager keeps (`web.checkpoints.history`, `web.exception-history-size`). */
  history?: JobHistoryBounds;
  /** Whether the Dispatcher's term still leads; its JobManagers stop acting once it does not. */
  leading?: () => boolean;
  log: Logger;
}

/** Where a JobManager starts the job: from a checkpoint, at an attempt number. */
export interface JobManagerStart {
  restoreFrom?: CompletedCheckpoint;
  /** See `firstAttemptOfTerm`. @default 0 (a new job) */
  firstAttempt?: number;
  /** The structure a submission just built; absent (a recovery): built again. */
  topology?: JobTopology;
}

/**
 * Creates the job's JobManager from its record, serves it and has it declare its requirements
 * (it retries until the ResourceManager answers).
 */
export async function runJobManager(
  settings: JobManagerSettings,
  record: JobRecord,
  { restoreFrom, firstAttempt = 0, topology }: JobManagerStart,
): Promise<JobManagerRun> {
  const { clusterId, fabric, stores, deadlines, log } = settings;
  const bytes = await stores.blobs.get(record.artifact);
  if (!bytes)
    throw new FlotillaError(
      ErrorCode.NOT_FOUND,
      `artifact ${record.artifact} is not in the blob store: upload it with POST /artifacts`,
    );
  const graph =
    topology ??
    (await settings.buildGraph({
      artifact: record.artifact,
      bytes,
      args: record.args,
      ...(record.parallelism ? { parallelism: record.parallelism } : {}),
      ...(record.secrets ? { secrets: record.secrets } : {}),
      accepted: true,
    }));
  const jm = createJobMaster({
    // The adaptive scheduler needs the graph at the parallelism the slots and its bounds allow:
    // the same structure with those vertex parallelisms (TaskManagers rebuild it from the job).
    rebuild: (vertexParallelism) => topologyAt(graph, vertexParallelism),
    ...(settings.scheduler ? { scheduler: settings.scheduler } : {}),
    ...(settings.history ? { history: settings.history } : {}),
    clusterId,
    jobId: parseJobId(record.jobId),
    graph,
    artifact: record.artifact,
    args: record.args,
    ...(record.parallelism ? { parallelism: record.parallelism } : {}),
    ...(record.secrets ? { secrets: record.secrets } : {}),
    ...(restoreFrom ? { restoreFrom } : {}),
    ...(record.resourceRequirements ? { resourceRequirements: record.resourceRequirements } : {}),
    // Kept with the job's record, so the next leader's JobManager keeps the bounds.
    onResourceRequirements: async (resourceRequirements) => {
      record.resourceRequirements = resourceRequirements;
      await stores.jobs.put(record);
    },
    firstAttempt,
    transportFor: fabric.transportFor,
    snapshots: stores.snapshots,
    onCheckpoint: (cp) => stores.checkpoints.add(cp),
    slotRequestTimeoutMs: settings.slotRequestTimeoutMs,
    ...(settings.collectMaxRecords ? { collectMaxRecords: settings.collectMaxRecords } : {}),
    ...(settings.leading ? { leading: settings.leading } : {}),
    ...deadlines,
    log,
  });
  const subject = subjects.jobManager(clusterId, record.jobId);
  const served = fabric.serve(subject, jobManagerApp(jm));
  const untrackMetrics = trackJobMaster(record.jobId, () => jm.info(), {
    checkpoints: () => jm.checkpoints(),
    ended: jm.outcome,
  });
  const transport = fabric.transportFor(subject);
  const slow = savepointDeadlines(graph, deadlines);
  let retired: Promise<void> | undefined;
  const run: JobManagerRun = {
    record,
    subject,
    outcome: jm.outcome,
    control: createClient<JobManagerControlApp>(transport, deadlines.rpc),
    savepoints: createClient<JobManagerControlApp>(transport, slow.savepoint),
    stops: createClient<JobManagerControlApp>(transport, slow.stop),
    lastState: JobState.CREATED,
    topology: graph,
    suspend: () => jm.suspend(),
    retire: () => {
      untrackMetrics();
      retired ??= served.stop();
      return retired;
    },
  };
  if (!(await jm.start()))
    log.warn({ job: record.jobId }, "declaring requirements failed; the JobManager retries");
  return run;
}
