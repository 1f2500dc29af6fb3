/**
 * The inside of a job process (`flotilla job-process`, started by a TaskManager under Node's
 * permission model, one per job): it imports the job's artifact, runs the subtasks the
 * TaskManager deploys, and reaches the cluster only through its TaskManager (`wire.ts`): its
 * data-plane channels go through the TaskManager's relay, its snapshots, results and reports
 * through calls the TaskManager makes for it. Job code here holds no credential of the cluster.
 */

import type { Duplex } from "node:stream";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  createLogger,
  ErrorCode,
  FlotillaError,
  type Logger,
  type LogLevel,
  NotFoundError,
  TaskState,
  TimeoutError,
} from "../../core/mod.ts";
import {
  type ChannelFactory,
  configureJobRuntime,
  deployTask,
  type JobGraph,
  loadArtifact,
  loadSnapshots,
  natsChannels,
  type Task,
} from "../../dataflow/internal_mod.ts";
import { type ChannelConnection, type ChannelMsg, NoRespondersError } from "../../rpc/mod.ts";
import { jobNatsOpener } from "../../security/mod.ts";
import type { DeployCall, InitCall, ToJobProcess } from "./messages.ts";
import { Peer, type WireMessage } from "./wire.ts";

interface Job {
  init: InitCall;
  graph(d: DeployCall): JobGraph;
  relay: ChannelConnection;
  channels: Map<number, ChannelFactory>;
  connections: Map<string, Promise<NatsConnection>>;
}

/** Serves the TaskManager on `socket` until it closes; then every connection of the job closes. */
export function runJobProcess(socket: Duplex, logLevel: LogLevel = "info"): Promise<void> {
  const log: Logger = createLogger({
    level: logLevel,
    bindings: { role: "job-process" },
    destination: process.stderr,
  });
  const tasks = new Map<number, Task>();
  const subscriptions = new Map<number, (msg: ChannelMsg) => void>();
  let job: Job | undefined;
  let metricsTimer: ReturnType<typeof setInterval> | undefined;
  let nextSid = 1;
  let done!: () => void;
  const closed = new Promise<void>((resolve) => {
    done = resolve;
  });

  const peer: Peer = new Peer(socket, {
    onMessage: (m) => handle(m as unknown as ToJobProcess),
    onCall: (m) => answer(m as unknown as ToJobProcess),
    onClose(error) {
      if (error) log.error({ err: error.message }, "the TaskManager's wire failed");
      clearInterval(metricsTimer);
      const connections = [...(job?.connections.values() ?? [])];
      void Promise.all(
        connections.map(async (c) => (await c.catch(() => undefined))?.close()),
      ).finally(done);
    },
  });

  const taskOf = (id: number): Task => {
    const task = tasks.get(id);
    if (!task) throw new NotFoundError(ErrorCode.NOT_FOUND, `no subtask ${id} in this job process`);
    return task;
  };
  const jobOf = (): Job => {
    if (!job) throw new FlotillaError(ErrorCode.UNAVAILABLE, "the job process has no job yet");
    return job;
  };

  function handle(m: ToJobProcess): void {
    switch (m.t) {
      case "run": {
        const task = taskOf(m.id);
        void task
          .run()
          .catch(() => {}) // its failure is reported as its state
          .then(() => {
            tasks.delete(m.id);
            peer.send({ t: "ended", id: m.id });
          });
        return;
      }
      case "trigger":
        taskOf(m.id).triggerCheckpoint(m.checkpointId, m.final);
        return;
      case "deliver": {
        const callback = subscriptions.get(m.sid);
        const did = m.did;
        callback?.({
          subject: m.subject,
          data: m.data,
          reply: did === undefined ? undefined : `relay.${did}`,
          respond: (data) => {
            if (did === undefined) return false;
            peer.send({ t: "respond", did, data });
            return true;
          },
        });
        return;
      }
      default:
        throw new FlotillaError(ErrorCode.BAD_ENVELOPE, `unknown message ${m.t} for a job process`);
    }
  }

  async function answer(m: ToJobProcess): Promise<unknown> {
    switch (m.t) {
      case "init":
        job = await start(m);
        metricsTimer = setInterval(sendMetrics, m.metricsIntervalMs);
        return null;
      case "deploy":
        return { source: Boolean(deploy(jobOf(), m).vertex.source) };
      case "cancel":
        await tasks.get(m.id)?.cancel(m.reason);
        return null;
      case "complete":
        await tasks.get(m.id)?.notifyCheckpointComplete(m.checkpointId);
        return null;
      default:
        throw new FlotillaError(ErrorCode.BAD_ENVELOPE, `unknown call ${m.t} for a job process`);
    }
  }

  function sendMetrics(): void {
    const running = [...tasks].filter(([, task]) => task.state === TaskState.RUNNING);
    if (running.length === 0) return;
    peer.send({ t: "metrics", tasks: running.map(([id, task]) => [id, task.metrics()]) });
  }

  async function start(init: InitCall): Promise<Job> {
    configureJobRuntime({ "secrets.dir": init.secretsDir, "artifact.cache-dir": "" });
    const loaded = await loadArtifact(init.bytes, {
      cacheDir: null,
      name: `job ${init.jobId}`,
      expected: init.artifact,
    });
    const graphs = new Map<string, JobGraph>();
    return {
      init,
      graph(d) {
        const shape = JSON.stringify([d.parallelism, d.vertexParallelism, d.args]);
        let graph = graphs.get(shape);
        if (!graph) {
          graph = loaded.graph({
            args: d.args,
            ...(d.secrets ? { secrets: d.secrets } : {}),
            ...(d.parallelism ? { parallelism: d.parallelism } : {}),
            ...(d.vertexParallelism ? { vertexParallelism: d.vertexParallelism } : {}),
          });
          graphs.set(shape, graph);
        }
        return graph;
      },
      relay: relayConnection(init.maxPayload),
      channels: new Map(),
      connections: new Map(),
    };
  }

  /**
   * The data plane: through the TaskManager, which passes this job's channel subjects only, except
   * between this process's own subtasks. A channel has one receiver and one sender, so a publish
   * or request on a subject this process subscribes to is delivered here and never leaves it
   * (DESIGN's "channels between subtasks on the same TaskManager bypass NATS"); delivery waits
   * for the next turn of the event loop, as a message from NATS would.
   */
  function relayConnection(maxPayload: number): ChannelConnection {
    const local = new Map<string, Set<number>>();
    const deliverHere = (subject: string, msg: Omit<ChannelMsg, "subject">) =>
      setImmediate(() => {
        for (const sid of local.get(subject) ?? []) subscriptions.get(sid)?.({ subject, ...msg });
      });
    return {
      info: { max_payload: maxPayload },
      isClosed: () => peer.closed,
      publish(subject, data) {
        if (local.get(subject)?.size) deliverHere(subject, { data, respond: () => false });
        else peer.send({ t: "pub", subject, data });
      },
      flush: async () => {
        await peer.call({ t: "flush" });
      },
      async request(subject, data, { timeout }) {
        if (local.get(subject)?.size)
          return await new Promise((resolve, reject) => {
            let answered = false;
            const timer = setTimeout(() => {
              answered = true;
              reject(new TimeoutError(`no reply from ${subject} within ${timeout} ms`));
            }, timeout);
            deliverHere(subject, {
              data,
              reply: "here",
              respond(answer) {
                if (answered) return false;
                answered = true;
                clearTimeout(timer);
                resolve({ data: answer });
                return true;
              },
            });
          });
        const answer = await peer.call({ t: "request", subject, data, timeout });
        if (answer instanceof Uint8Array) return { data: answer };
        const why = (answer as { noResponders?: unknown } | null)?.noResponders;
        throw new NoRespondersError(String(why ?? `no answer on ${subject}`));
      },
      subscribe(subject, { callback }) {
        const sid = nextSid++;
        subscriptions.set(sid, (msg) => callback(null, msg));
        const here = local.get(subject) ?? new Set<number>();
        local.set(subject, here);
        here.add(sid);
        peer.send({ t: "sub", sid, subject });
        return {
          unsubscribe() {
            if (!subscriptions.delete(sid)) return;
            here.delete(sid);
            if (here.size === 0 && local.get(subject) === here) local.delete(subject);
            peer.send({ t: "unsub", sid });
          },
        };
      },
    };
  }

  function connectNats(j: Job, servers?: string): Promise<NatsConnection> {
    const { jobNats } = j.init;
    if (typeof jobNats === "string" && !servers)
      return Promise.reject(new FlotillaError(ErrorCode.INVALID_CONFIG, jobNats));
    const key = servers ?? "";
    let opened = j.connections.get(key);
    if (!opened) {
      opened = jobNatsOpener(typeof jobNats === "string" ? { servers: [] } : jobNats)(servers);
      j.connections.set(key, opened);
      opened.catch(() => j.connections.delete(key));
    }
    return opened;
  }

  function deploy(j: Job, d: DeployCall): Task {
    if (tasks.has(d.id)) throw new FlotillaError(ErrorCode.CONFLICT, `subtask ${d.id} exists`);
    let channels = j.channels.get(d.attempt);
    if (!channels) {
      channels = natsChannels({
        nc: j.relay,
        clusterId: j.init.clusterId,
        jobId: j.init.jobId,
        attempt: d.attempt,
      });
      j.channels.set(d.attempt, channels);
    }
    const { id } = d;
    const report = (message: WireMessage) => peer.send(message);
    let task: Task | undefined;
    task = deployTask({
      graph: j.graph(d),
      jobId: j.init.jobId,
      vertexId: d.vertexId,
      subtask: d.subtask,
      attempt: d.attempt,
      channels,
      services: {
        log: log.child({ job: j.init.jobId, vertex: d.vertexId, subtask: d.subtask }),
        args: d.args,
        connectNats: (servers) => connectNats(j, servers),
        publishResults: async (sinkId, values, batchId) => {
          await peer.call({ t: "results", id, sinkId, values, ...(batchId ? { batchId } : {}) });
        },
      },
      checkpointing: {
        store: async (checkpointId, bytes) =>
          (await peer.call({ t: "store", id, checkpointId, bytes })) as string,
        acknowledge: (checkpointId, handle, bytes) =>
          report({ t: "ack", id, checkpointId, handle, bytes }),
        decline: (checkpointId, reason) =>
          report({ t: "decline", id, checkpointId, reason: reason.slice(0, 4000) }),
        sourceEnded: () => report({ t: "sourceEnded", id }),
      },
      ...(d.restore
        ? {
            restore: () =>
              loadSnapshots(
                {
                  location: "the TaskManager",
                  get: async (handle) =>
                    ((await peer.call({ t: "snapshot", id, handle })) as Uint8Array | null) ??
                    undefined,
                  put: () => Promise.reject(new Error("a job process stores by checkpointing")),
                  deletePrefix: () => Promise.reject(new Error("a job process deletes nothing")),
                },
                d.restore ?? [],
              ),
          }
        : {}),
      onStateChange: (state, error) => {
        const metrics = task?.metrics();
        report({
          t: "state",
          id,
          state,
          ...(error
            ? { error: { code: error.code, message: withPermissionHint(error.message) } }
            : {}),
          ...(metrics ? { metrics } : {}),
        });
      },
    });
    tasks.set(id, task);
    return task;
  }

  return closed;
}

/** Node's refusal names its own flags; a job's author needs the TaskManager's keys instead. */
function withPermissionHint(message: string): string {
  const refused =
    /Access to this API has been restricted\.?( Use --allow-[\w-]+ to manage permissions\.)?/;
  const hint =
    "refused: a job process reads only flotilla's code, its secrets and taskmanager.job-process-read (FLOTILLA_TASKMANAGER_JOB_PROCESS_READ), writes only taskmanager.job-process-write, and starts no process or worker";
  return message.replace(refused, hint).slice(0, 4000);
}
