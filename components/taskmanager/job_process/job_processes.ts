/**
 * A TaskManager's job processes (`taskmanager.job-process: process`): one child process per job
 * with subtasks here, started under Node's permission model (no environment; it reads flotilla's
 * code, the job's secrets and the job user's NATS files, and nothing else: not the TaskManager's
 * credentials), ended when the job leaves. The job's code runs there. The TaskManager is its
 * only way out, and passes only what is the job's own: publishes, subscriptions and requests
 * on the job's data-plane subjects (`flotilla.<c>.data.<job>.>`), the snapshots it restores
 * from, snapshots and results stored under its own subtasks' keys. A process that sends
 * anything else, or garbage, is killed and its subtasks fail, naming why.
 */

import { spawn } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import type { Duplex } from "node:stream";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  ErrorCode,
  FlotillaError,
  InvalidConfigError,
  JOB_PROCESS_COMMAND,
  type JobId,
  jobSecretFiles,
  type Logger,
  type LogLevel,
  NotFoundError,
  packageRootOf,
  permissionFlag,
  subjects,
} from "../../core/mod.ts";
import type { SnapshotStore } from "../../dataflow/internal_mod.ts";
import type { TaskDescriptor } from "../../protocol/mod.ts";
import { mapNatsError, NoRespondersError } from "../../rpc/mod.ts";
import type { JobNatsSettings } from "../../security/mod.ts";
import type { ArtifactSource } from "../job_graphs.ts";
import type { SubtaskReports } from "../task_start.ts";
import { type FromJobProcess, fromJobProcessSchema } from "./messages.ts";
import { RemoteTask } from "./remote_task.ts";
import { Peer, type WireMessage } from "./wire.ts";

/** Subscriptions one job process may hold (three per channel end it runs). */
const MAX_SUBSCRIPTIONS = 65_536;
/** Requests it may have waiting for an answer (handshakes of its channels). */
const MAX_PENDING_REPLIES = 65_536;
/** Longest stderr line of it that is logged. */
const MAX_LOG_LINE = 8192;
const ENV = "/usr/bin/env";

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
  readonly #code: string;
  readonly #byJob = new Map<JobId, Hosted>();
  #nextId = 1;

  constructor(options: JobProcessOptions) {
    if ("Deno" in globalThis)
      throw new InvalidConfigError(
        "taskmanager.job-process",
        "a job process runs on Node.js (its permission model); under Deno set taskmanager.job-process: none",
      );
    this.#o = options;
    const entry = realpathSync(options.entry);
    this.#code = packageRootOf(entry) ?? entry;
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
    await Promise.all(this.jobs().map((jobId) => this.forget(jobId)));
  }

  #start(d: TaskDescriptor): Hosted {
    const o = this.#o;
    const jobId = d.jobId;
    const log = o.log.child({ job: jobId });
    const readable = [
      this.#code,
      ...jobSecretFiles(o.secretsDir),
      ...(typeof o.jobNats === "string"
        ? []
        : [o.jobNats.seedFile, ...Object.values(o.jobNats.tls ?? {})]
      ).filter((f): f is string => typeof f === "string" && f.length > 0),
      ...(o.readPaths ?? []),
    ];
    const args = [
      permissionFlag(),
      ...readable.map((path) => `--allow-fs-read=${path}`),
      ...(o.writePaths ?? []).map((path) => `--allow-fs-write=${path}`),
      `--max-old-space-size=${o.memoryMb}`,
      o.entry,
      JOB_PROCESS_COMMAND,
      o.logLevel,
    ];
    const [command, argv] = existsSync(ENV)
      ? [ENV, ["-i", process.execPath, ...args]]
      : [process.execPath, args];
    const child = spawn(command, argv, { env: {}, stdio: ["ignore", "pipe", "pipe", "pipe"] });
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
    if (child.stdout) forwardLines(child.stdout, (line) => log.info({ stream: "stdout" }, line));
    if (child.stderr) forwardLines(child.stderr, (line) => logLine(log, line));
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
      const result = fromJobProcessSchema.safeParse(raw);
      if (result.success) return result.data;
      const issue = result.error.issues[0];
      kill(
        `it sent a message the TaskManager refuses (${String(raw.t).slice(0, 32)}: ${issue?.path.join(".")} ${issue?.message})`,
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

/**
 * The data plane a job process reaches through its TaskManager: subjects under its job's prefix
 * only. Anything else is refused and logged; the process is not trusted to ask nicely.
 */
class Relay {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #send: (m: WireMessage) => void;
  readonly #log: Logger;
  readonly #subs = new Map<number, Subscription>();
  readonly #replies = new Map<number, Msg>();
  #nextDid = 1;

  constructor(nc: NatsConnection, jobSubject: string, send: (m: WireMessage) => void, log: Logger) {
    this.#nc = nc;
    this.#prefix = `${jobSubject}.`;
    this.#send = send;
    this.#log = log;
  }

  #check(subject: string): void {
    if (!subject.startsWith(this.#prefix) || /[\s*>]/.test(subject))
      throw new FlotillaError(
        ErrorCode.FORBIDDEN,
        `a job process may use its own job's data subjects (${this.#prefix}...), not ${subject}`,
      );
  }

  subscribe(sid: number, subject: string): void {
    this.#check(subject);
    if (this.#subs.has(sid) || this.#subs.size >= MAX_SUBSCRIPTIONS)
      throw new FlotillaError(
        ErrorCode.INVALID_ARGUMENT,
        `subscription ${sid} exists or the process holds ${MAX_SUBSCRIPTIONS} already`,
      );
    const sub = this.#nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return this.#log.warn({ err: err.message, subject }, "relayed subscription");
        let did: number | undefined;
        if (msg.reply) {
          did = this.#nextDid++;
          this.#replies.set(did, msg);
          // Oldest first: a reply never answered is dropped once the map is full.
          if (this.#replies.size > MAX_PENDING_REPLIES)
            this.#replies.delete(this.#replies.keys().next().value as number);
        }
        this.#send({
          t: "deliver",
          sid,
          subject: msg.subject,
          data: msg.data,
          ...(did ? { did } : {}),
        });
      },
    });
    this.#subs.set(sid, sub);
  }

  unsubscribe(sid: number): void {
    this.#subs.get(sid)?.unsubscribe();
    this.#subs.delete(sid);
  }

  publish(subject: string, data: Uint8Array): void {
    this.#check(subject);
    try {
      this.#nc.publish(subject, data);
    } catch (err) {
      this.#log.warn({ err: (err as Error).message, subject }, "a relayed publish failed");
    }
  }

  respond(did: number, data: Uint8Array): void {
    const msg = this.#replies.get(did);
    this.#replies.delete(did);
    msg?.respond(data);
  }

  /** A request's answer; `{ noResponders }` when nobody listens (the channel retries those). */
  async request(subject: string, data: Uint8Array, timeout: number): Promise<unknown> {
    this.#check(subject);
    try {
      return (await this.#nc.request(subject, data, { timeout })).data;
    } catch (err) {
      const error = mapNatsError(err, subject, timeout);
      if (error instanceof NoRespondersError) return { noResponders: error.message };
      throw error;
    }
  }

  close(): void {
    for (const sub of this.#subs.values()) sub.unsubscribe();
    this.#subs.clear();
    this.#replies.clear();
  }
}

/** Calls `each` with every line of `stream`, cut to `MAX_LOG_LINE`. */
function forwardLines(stream: NodeJS.ReadableStream, each: (line: string) => void): void {
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = (lines.pop() ?? "").slice(-MAX_LOG_LINE);
    for (const line of lines) if (line.trim()) each(line.slice(0, MAX_LOG_LINE));
  });
}

const LEVELS: Record<number, "trace" | "debug" | "info" | "warn" | "error" | "fatal"> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

/** A job process's log line, at its level with its fields (and this TaskManager's), or as text. */
function logLine(log: Logger, line: string): void {
  try {
    const {
      level,
      msg,
      time: _t,
      pid: _p,
      hostname: _h,
      role: _r,
      ...fields
    } = JSON.parse(line) as Record<string, unknown>;
    const at = LEVELS[Number(level)];
    if (at && typeof msg === "string") {
      log[at]({ ...fields, from: "job-process" }, msg);
      return;
    }
  } catch {
    // not a log line of ours: the runtime's own output (a warning, a crash)
  }
  if (/ExperimentalWarning|--trace-warnings/.test(line)) return;
  log.warn({ stream: "stderr" }, line);
}
