/**
 * A TaskManager's job processes (`taskmanager.job-process: process`): one child process per job
 * with subtasks here, started under Node's permission model (no environment; it reads flotilla's
 * code, the job's secrets, the job user's NATS files and the data directories it is given, and
 * nothing else: not the TaskManager's credentials), ended when the job leaves (spawn.ts). The job's code runs there. The TaskManager is its
 * only way out, and passes only what is the job's own: publishes, subscriptions and requests
 * on the job's data-plane subjects (`flotilla.<c>.data.<job>.>`), the snapshots it restores
 * from, snapshots and results stored under its own subtasks' keys. A process that sends
 * anything else, or garbage, is killed and its subtasks fail, naming why.
 */

import type { Duplex } from "node:stream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  ErrorCode,
  FlotillaError,
  InvalidConfigError,
  type JobId,
  jobSecretFiles,
  type Logger,
  type LogLevel,
  NotFoundError,
  subjects,
} from "../../core/mod.ts";
import type { SnapshotStore } from "../../dataflow/internal_mod.ts";
import type { TaskDescriptor } from "../../protocol/mod.ts";
import type { JobNatsSettings } from "../../security/mod.ts";
import type { ArtifactSource } from "../job_graphs.ts";
import type { SubtaskReports } from "../task_start.ts";
import { type FromJobProcess, parseFromJobProcess } from "./messages.ts";
import { Relay } from "./relay.ts";
import { RemoteTask } from "./remote_task.ts";
import { forwardOutput, JobProcessSpawner } from "./spawn.ts";
import { Peer, type WireMessage } from "./wire.ts";

export interface JobProcessOptions {
  /** The flotilla executable (`process.argv[1]`): a job process runs it too. */
  entry: string;
  clusterId: string;
  /** The TaskManager's connection, which carries its job processes' data plane. */
  nc: NatsConnection;
  artifacts: ArtifactSource;
  snapshots: SnapshotStore;
  /** The jobs' secrets (`secrets.dir`); the cluster's own credentials there stay unreadable. */
  secretsDir: string;
  /** How job code connects to NATS (the `job` user), or why it cannot. */
  jobNats: JobNatsSettings | string;
  /** What job code may read besides its code and secrets (`taskmanager.job-process-read`). */
  readPaths?: readonly string[];
  /** What job code may write (`taskmanager.job-process-write`). */
  writePaths?: readonly string[];
  /** A job process's V8 heap limit (`taskmanager.job-process-memory-mb`). */
  memoryMb: number;
  /** How often a job process reports its subtasks' counters. */
  metricsIntervalMs: number;
  logLevel: LogLevel;
  log: Logger;
}

interface Hosted {
  jobId: JobId;
  peer: Peer;
  ready: Promise<void>;
  tasks: Map<number, RemoteTask>;
  /** What each subtask may restore from. */
  restores: Map<number, Set<string>>;
  kill(why: string): void;
  exited: Promise<void>;
}

export class JobProcesses {
  readonly #o: JobProcessOptions;
  readonly #spawner: JobProcessSpawner;
  readonly #byJob = new Map<JobId, Hosted>();
  #nextId = 1;

  constructor(options: JobProcessOptions) {
    if ("Deno" in globalThis)
      throw new InvalidConfigError(
        "taskmanager.job-process",
        "a job process runs on Node.js (its permission model); under Deno set taskmanager.job-process: none",
      );
    this.#o = options;
    const jobNatsFiles =
      typeof options.jobNats === "string"
        ? []
        : [options.jobNats.seedFile, ...Object.values(options.jobNats.tls ?? {})];
    this.#spawner = new JobProcessSpawner({
      entry: options.entry,
      // Read at each start: the job secrets there now (a secret mounted later is readable).
      readable: () => [
        ...jobSecretFiles(options.secretsDir),
        ...jobNatsFiles.filter((f): f is string => typeof f === "string" && f.length > 0),
        ...(options.readPaths ?? []),
      ],
      writable: options.writePaths ?? [],
      memoryMb: options.memoryMb,
      logLevel: options.logLevel,
    });
  }

  /** Jobs with a process. */
  jobs(): JobId[] {
    return [...this.#byJob.keys()];
  }

  /** Sets the subtask up in its job's process (started if the job has none). */
  async deploy(d: TaskDescriptor, reports: SubtaskReports): Promise<RemoteTask> {
    const hosted = this.#byJob.get(d.jobId) ?? this.#start(d);
    await hosted.ready;
    const id = this.#nextId++;
    const answer = (await hosted.peer.call({
      t: "deploy",
      id,
      vertexId: d.vertexId,
      subtask: d.subtask,
      attempt: d.attempt,
      args: d.args,
      ...(d.secrets ? { secrets: d.secrets } : {}),
      ...(d.parallelism ? { parallelism: d.parallelism } : {}),
      ...(d.vertexParallelism ? { vertexParallelism: d.vertexParallelism } : {}),
      ...(d.restore ? { restore: d.restore } : {}),
    })) as { source?: unknown } | null;
    const task = new RemoteTask(id, answer?.source === true, hosted.peer, reports);
    hosted.tasks.set(id, task);
    if (d.restore) hosted.restores.set(id, new Set(d.restore));
    return task;
  }

  /** The job left this TaskManager: its process ends (its subtasks ended already). */
  async forget(jobId: JobId): Promise<void> {
    const hosted = this.#byJob.get(jobId);
    if (!hosted) return;
    this.#byJob.delete(jobId);
    hosted.peer.end();
    const grace = setTimeout(() => hosted.kill("it did not end after its job left"), 5000);
    await hosted.exited;
    clearTimeout(grace);
  }

  async closeAll(): Promise<void> {
    this.#spawner.close();
    await Promise.all(this.jobs().map((jobId) => this.forget(jobId)));
  }

  #start(d: TaskDescriptor): Hosted {
    const o = this.#o;
    const jobId = d.jobId;
    const log = o.log.child({ job: jobId });
    const child = this.#spawner.take();
    const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
    const tasks = new Map<number, RemoteTask>();
    const restores = new Map<number, Set<string>>();
    let gone: string | undefined;
    const kill = (why: string) => {
      if (gone) return;
      gone = why;
      log.warn({ why }, "job process killed");
      child.kill("SIGKILL");
    };
    forwardOutput(child, log);
    const relay = new Relay(o.nc, subjects.jobData(o.clusterId, jobId), (m) => peer.send(m), log);
    const peer: Peer = new Peer(child.stdio[3] as Duplex, {
      onMessage: (raw) => {
        const m = parsed(raw);
        if (m) handle(m);
      },
      onCall: async (raw) => {
        const m = parsed(raw);
        if (!m) throw new FlotillaError(ErrorCode.BAD_ENVELOPE, "refused");
        return answer(m);
      },
      onClose: (error) => {
        if (error) kill(error.message);
      },
    });
    child.once("error", (err) => kill(`it could not start: ${err.message}`));
    child.once("close", (code, signal) => {
      relay.close();
      if (this.#byJob.get(jobId) === hosted) this.#byJob.delete(jobId);
      const why = `the job process of job ${jobId} ended (${gone ?? `exit ${code ?? signal}`})`;
      for (const task of tasks.values()) task.lost(why);
    });

    const parsed = (raw: WireMessage): FromJobProcess | undefined => {
      const result = parseFromJobProcess(raw);
      if (result.success) return result.data;
      kill(
        `it sent a message the TaskManager refuses (${String(raw.t).slice(0, 32)}: ${result.why})`,
      );
      return undefined;
    };
    const taskOf = (id: number): RemoteTask => {
      const task = tasks.get(id);
      if (!task) throw new NotFoundError(ErrorCode.NOT_FOUND, `no subtask ${id} of job ${jobId}`);
      return task;
    };

    const handle = (m: FromJobProcess): void => {
      switch (m.t) {
        case "state":
          tasks.get(m.id)?.stateChanged(m.state, m.error, m.metrics);
          return;
        case "ended": {
          tasks.get(m.id)?.ended();
          tasks.delete(m.id);
          restores.delete(m.id);
          return;
        }
        case "ack":
          tasks.get(m.id)?.reports.acknowledge(m.checkpointId, m.handle, m.bytes);
          return;
        case "decline":
          tasks.get(m.id)?.reports.decline(m.checkpointId, m.reason);
          return;
        case "sourceEnded":
          tasks.get(m.id)?.reports.sourceEnded();
          return;
        case "metrics":
          for (const [id, counters] of m.tasks) tasks.get(id)?.countersReported(counters);
          return;
        case "sub":
          relay.subscribe(m.sid, m.subject);
          return;
        case "unsub":
          relay.unsubscribe(m.sid);
          return;
        case "pub":
          relay.publish(m.subject, m.data);
          return;
        case "respond":
          relay.respond(m.did, m.data);
          return;
        default:
          kill(`it sent ${m.t} as a message, which is a call`);
      }
    };

    const answer = async (m: FromJobProcess): Promise<unknown> => {
      switch (m.t) {
        case "store":
          return taskOf(m.id).reports.store(m.checkpointId, m.bytes);
        case "results":
          await taskOf(m.id).reports.publishResults(m.sinkId, m.values, m.batchId);
          return null;
        case "snapshot": {
          taskOf(m.id);
          if (!restores.get(m.id)?.has(m.handle))
            throw new FlotillaError(
              ErrorCode.FORBIDDEN,
              `subtask ${m.id} of job ${jobId} does not restore from ${m.handle}`,
            );
          return (await o.snapshots.get(m.handle)) ?? null;
        }
        case "request":
          return relay.request(m.subject, m.data, m.timeout);
        case "flush":
          await o.nc.flush();
          return null;
        default:
          throw new FlotillaError(ErrorCode.BAD_ENVELOPE, `${m.t} is not a call`);
      }
    };

    const ready = (async () => {
      const bytes = await o.artifacts.get(d.artifact);
      if (!bytes)
        throw new NotFoundError(
          ErrorCode.NOT_FOUND,
          `artifact ${d.artifact} of job ${jobId} is not in the blob store`,
        );
      await peer.call({
        t: "init",
        jobId,
        clusterId: o.clusterId,
        artifact: d.artifact,
        bytes,
        secretsDir: o.secretsDir,
        jobNats: o.jobNats,
        maxPayload: o.nc.info?.max_payload ?? 1024 * 1024,
        metricsIntervalMs: o.metricsIntervalMs,
      });
    })();
    const hosted: Hosted = { jobId, peer, ready, tasks, restores, kill, exited };
    // A process whose job could not load is no use to the next deployment: it goes.
    ready.catch((err: Error) => {
      kill(`its job did not load: ${err.message}`);
      if (this.#byJob.get(jobId) === hosted) this.#byJob.delete(jobId);
    });
    this.#byJob.set(jobId, hosted);
    return hosted;
  }
}
