/**
 * The cluster a fault scenario runs on: a real nats-server (JetStream on file storage, so it can
 * be restarted under the cluster), one or more `master` processes (Dispatcher + ResourceManager
 * with their JobManagers, each with its own REST port; one leads, the others stand by) and
 * TaskManager processes with known ids, every one of which can be killed, stopped and continued
 * by pid. The masters' JSON log lines are kept for the leadership check.
 */
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import { blobBucketName, kvBucketName, UnavailableError } from "../../../components/core/mod.ts";
import { bundleJob } from "../../../components/dataflow/internal_mod.ts";
import { type HaServices, natsHaServices } from "../../../components/ha/mod.ts";
import {
  decodeReply,
  encodeRequest,
  httpTransport,
  type ReplyEnvelope,
  type Transport,
  unwrap,
} from "../../../components/rpc/mod.ts";
import { type ClusterProcesses, clusterFor } from "../../support/cluster.ts";
import { freePort, type NatsServer } from "../../support/nats.ts";
import {
  type DispatcherRest,
  dispatcherRest,
  type RestCall,
  restCall,
} from "../../support/rest.ts";
import { authorized } from "../../support/rest_token.ts";
import { connectFor, natsFor } from "../../support/tap.ts";
import { type LogLine, parseLine } from "./leaders.ts";

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface Master {
  readonly id: string;
  readonly rest: string;
  readonly proc: ChildProcess;
}

export interface FaultClusterOptions {
  /** Master processes: one leads, the rest stand by. @default 1 */
  masters?: number;
  /** TaskManager processes at the start. @default 4 */
  taskManagers?: number;
  /** Slots per TaskManager. @default 2 */
  slots?: number;
  /** More FLOTILLA_* settings for every process (timings). */
  env?: Record<string, string>;
}

export type Signal = "SIGKILL" | "SIGSTOP" | "SIGCONT" | "SIGTERM";

/** The Dispatcher's REST API on whichever master answers as leader (a standby answers 503). */
export interface FaultCluster extends DispatcherRest {
  readonly nats: NatsServer;
  readonly clusterId: string;
  readonly masters: Master[];
  /** Live (not killed) TaskManager processes by id; a stopped one is still live. */
  readonly tms: Map<string, ChildProcess>;
  /** Every log line of every master, in arrival order. */
  readonly lines: LogLine[];
  /** When each process was frozen and thawed (SIGSTOP / SIGCONT), and killed. */
  readonly signals: { at: number; proc: string; signal: Signal }[];
  startTaskManager(): string;
  startMaster(): Promise<Master>;
  /** Sends a signal to a master or TaskManager by id; SIGKILL waits for the exit. */
  signal(id: string, signal: Signal): Promise<void>;
  /** One raw REST call on the leading master; throws when no master answers as leader. */
  call: RestCall;
  /** The leading master's id according to the HA store. */
  leader(role?: "dispatcher" | "resourcemanager"): Promise<string | undefined>;
  /** The role's lease in the HA store: holder and fencing token. */
  lease(
    role: "dispatcher" | "resourcemanager",
  ): Promise<{ holder: string; token: number } | undefined>;
  /** The cluster's HA services, as a client of the cluster (the test's own connection). */
  readonly ha: HaServices;
  /** The storage type of the cluster's KV bucket and blob store streams ("file" expected). */
  storage(): Promise<string[]>;
  /** Uploads the fault job (test/faults/jobs/sequence_check.ts) and submits it. */
  submit(args: Record<string, string>, parallelism?: number): Promise<string>;
  waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
  /**
   * How many processes answer one request on a subject (all replies within `waitMs`): a
   * singleton that two processes answer has two acting leaders.
   */
  responders(subject: string, path: string, waitMs?: number): Promise<string[]>;
}

const JOB = fileURLToPath(new URL("../jobs/sequence_check.ts", import.meta.url));
let bundled: Promise<Uint8Array> | undefined;

/** Uploads the fault suite's job (bundled once per process) and submits it; the job's id. */
export async function submitFaultJob(
  { api }: Pick<DispatcherRest, "api">,
  args: Record<string, string>,
  parallelism?: number,
): Promise<string> {
  bundled ??= bundleJob(JOB);
  // The route takes the bundle as it is (copied onto an ArrayBuffer, as a request body is).
  const body = new Uint8Array(await bundled);
  const { artifact } = await unwrap(api.artifacts.$post(undefined, { init: { body } }));
  const { jobId } = await unwrap(
    api.jobs.$post({ json: { artifact, args, ...(parallelism ? { parallelism } : {}) } }),
  );
  return jobId;
}

export async function faultCluster(
  t: Teardown,
  { masters: masterCount = 1, taskManagers = 4, slots = 2, env = {} }: FaultClusterOptions = {},
): Promise<FaultCluster> {
  const nats = await natsFor(t);
  const lines: LogLine[] = [];
  const signals: FaultCluster["signals"] = [];
  const onLine = (proc: string) => (line: string) => {
    const parsed = parseLine(line, proc);
    if (parsed) lines.push(parsed);
  };
  const base: ClusterProcesses = await clusterFor(t, nats, {
    roles: ["master"],
    env: {
      FLOTILLA_CLUSTER_INSTANCE_ID: "master-1",
      FLOTILLA_TASKMANAGER_SLOTS: String(slots),
      FLOTILLA_LOG_LEVEL: "info",
      ...env,
    },
    onLine: onLine("master-1"),
  });
  const clusterId = base.env.FLOTILLA_CLUSTER_ID!;
  const masters: Master[] = [{ id: "master-1", rest: base.rest, proc: base.processes[0]! }];
  const byId = new Map<string, ChildProcess>([["master-1", base.processes[0]!]]);
  const tms = new Map<string, ChildProcess>();
  let tmCount = 0;
  let preferred = masters[0]!;
  const probe = await leaderProbe(t, nats, clusterId);
  // Each call goes to the master that answered last, else to the others in order; a master that
  // is dead, silent for 2 s or standing by (503) is passed over.
  const leading: Transport = {
    target: "the leading master",
    async send(request, timeoutMs) {
      const order = [preferred, ...masters.filter((m) => m !== preferred)];
      let last: ReplyEnvelope | Error | undefined;
      for (const master of order) {
        if (master.proc.exitCode !== null || master.proc.signalCode !== null) continue;
        const reply = await authorized(httpTransport(master.rest))
          .send(request, Math.min(timeoutMs, 2000))
          .catch((err: Error) => err);
        if (reply instanceof Error || reply.status === 503) {
          last = reply;
          continue;
        }
        preferred = master;
        return reply;
      }
      const seen =
        last instanceof Error
          ? last.message
          : last && `${last.status} ${new TextDecoder().decode(last.body)}`;
      throw new UnavailableError(
        `no master answered ${request.method} ${request.path} (last: ${seen ?? "none live"})`,
      );
    },
  };

  const cluster: FaultCluster = {
    ...dispatcherRest(leading),
    nats,
    clusterId,
    masters,
    tms,
    lines,
    signals,
    startTaskManager() {
      const id = `tm-${++tmCount}`;
      const proc = base.spawn(
        "taskmanager",
        {
          FLOTILLA_TASKMANAGER_ID: id,
          FLOTILLA_LOG_LEVEL: process.env.FLOTILLA_FAULTS_TM_LOG ?? "warn",
        },
        { onLine: onLine(id) },
      );
      tms.set(id, proc);
      byId.set(id, proc);
      proc.once("exit", () => tms.delete(id));
      return id;
    },
    async startMaster() {
      const id = `master-${masters.length + 1}`;
      const port = await freePort();
      const proc = base.spawn(
        "master",
        { FLOTILLA_CLUSTER_INSTANCE_ID: id, FLOTILLA_REST_PORT: String(port) },
        { onLine: onLine(id) },
      );
      const master = { id, rest: `http://127.0.0.1:${port}`, proc };
      masters.push(master);
      byId.set(id, proc);
      await base.waitFor(`${id}'s REST endpoint`, async () =>
        (await fetch(`${master.rest}/healthz`)).ok ? true : undefined,
      );
      return master;
    },
    async signal(id, signal) {
      const proc = byId.get(id);
      if (!proc) throw new Error(`no process ${id}`);
      signals.push({ at: Date.now(), proc: id, signal });
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill(signal);
      if (signal === "SIGKILL") await exited;
    },
    call: restCall(leading),
    async leader(role = "dispatcher") {
      return (await probe.leader(role))?.holder;
    },
    lease: (role) => probe.leader(role),
    ha: probe.ha,
    storage: () => probe.storage(),
    submit: (args, parallelism) => submitFaultJob(cluster, args, parallelism),
    waitFor: (what, probeFn, timeoutMs) => base.waitFor(what, probeFn, timeoutMs),
    responders: (subject, path, waitMs) => probe.responders(subject, path, waitMs),
  };

  for (let i = 2; i <= masterCount; i++) await cluster.startMaster();
  for (let i = 0; i < taskManagers; i++) cluster.startTaskManager();
  await cluster.waitFor(
    `${taskManagers} TaskManagers`,
    async () => ((await cluster.overview()).taskmanagers === taskManagers ? true : undefined),
    30_000,
  );
  return cluster;
}

/** Reads leader leases from the HA store, as a client of the cluster would. */
export async function leaderProbe(t: Teardown, nats: NatsServer, clusterId: string) {
  const nc = await connectFor(t, nats);
  const ha = await natsHaServices({ nc, clusterId });
  const elections = {
    dispatcher: ha.election({ role: "dispatcher", holder: "fault-probe" }),
    resourcemanager: ha.election({ role: "resourcemanager", holder: "fault-probe" }),
  };
  return {
    ha,
    leader: (role: "dispatcher" | "resourcemanager") =>
      elections[role].leader().catch(() => undefined),
    async responders(subject: string, path: string, waitMs = 300): Promise<string[]> {
      const request = encodeRequest({ method: "GET", path, headers: {} });
      const answers: string[] = [];
      try {
        const replies = await nc.requestMany(subject, request, {
          strategy: "timer",
          maxWait: waitMs,
        });
        for await (const msg of replies) {
          const reply = decodeReply(msg.data);
          answers.push(
            `${reply.status} ${new TextDecoder().decode(reply.body ?? new Uint8Array())}`,
          );
        }
      } catch {
        // No responders (or NATS away): nobody answered.
      }
      return answers;
    },
    /** The storage of the cluster's KV bucket and blob store streams. */
    async storage(): Promise<string[]> {
      const jsm = await jetstreamManager(nc);
      // JetStream's streams behind a KV bucket and an object store: KV_<bucket>, OBJ_<store>.
      const names = [`KV_${kvBucketName(clusterId)}`, `OBJ_${blobBucketName(clusterId)}`];
      return Promise.all(names.map(async (n) => (await jsm.streams.info(n)).config.storage));
    },
  };
}
