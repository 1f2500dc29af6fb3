/**
 * The TaskManager: offers its slots to the ResourceManager, hands allocated slots to the job's
 * JobManager, runs the subtasks the JobManager deploys (the dataflow runtime's Task, loaded from
 * the job artifact), and reports their states, checkpoint acknowledgements and results back.
 * It keeps registering while no RM answers and re-registers when the RM forgets it.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import {
  BlockRole,
  codecFor,
  decodeBody,
  ErrorCode,
  FlotillaError,
  fromWire,
  JSON_TYPE,
  json,
  type Logger,
  newTaskManagerId,
  silentLogger,
  snapshotKey,
  subjects,
  toFlotillaError,
} from "../core/mod.ts";
import {
  type ChannelFactory,
  deployTask,
  loadArtifact,
  loadSnapshots,
  type SnapshotStore,
  type Task,
} from "../dataflow/internal_mod.ts";
import type { JobGraph } from "../dataflow/mod.ts";
import {
  body,
  createBlock,
  createClient,
  FencingTokens,
  fencing,
  HeartbeatMonitor,
  params,
  reply,
  type Transport,
  unwrap,
} from "../rpc/mod.ts";
import { SlotTable } from "./slot_table.ts";
import {
  allocateSchema,
  freeSlotSchema,
  jobAttemptSchema,
  type SlotReport,
  SlotState,
  type TaskDescriptor,
  taskDescriptorSchema,
  triggerSchema,
} from "./types.ts";

type Profile = SlotReport["profile"];

export interface TaskManagerOptions {
  clusterId: string;
  /** @default a fresh `tm-<hex>` id */
  tmId?: string;
  /** How this TaskManager reaches other blocks by subject (NATS, or in-process). */
  transportFor(subject: string): Transport;
  /** The data-plane channels of one job attempt. */
  channelsFor(jobId: string, attempt: number): ChannelFactory;
  /** Where job artifacts are (by sha256). */
  artifacts: { get(key: string): Promise<Uint8Array | undefined> };
  /** Where task snapshots go and come from. */
  snapshots: SnapshotStore;
  /** One profile per slot. @default one slot with no declared resources */
  slots?: Profile[];
  /** What the whole TaskManager offers. @default the sum of the slots */
  totalResources?: Profile;
  /** For sources and sinks that use NATS. */
  connectNats?(servers?: string): Promise<NatsConnection>;
  /** @default 1000 */
  heartbeatIntervalMs?: number;
  /** @default 5000 */
  heartbeatTimeoutMs?: number;
  log?: Logger;
}

interface Running {
  descriptor: TaskDescriptor;
  task: Task;
  /** Reports to the JM go one after another, in order. */
  reports: Promise<void>;
}

/** A task being deployed: the checkpoint triggers it must not miss, and a cancel that came. */
interface SettingUp {
  jobId: string;
  attempt: number;
  triggers: { id: number; final: boolean }[];
  /** Canceled while being set up: the task is canceled as soon as it exists. */
  canceled?: string;
}

const ANY: Profile = { cpu: 0, memoryMb: 0, extended: {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sum(profiles: Profile[]): Profile {
  const extended: Record<string, number> = {};
  for (const p of profiles)
    for (const [k, v] of Object.entries(p.extended)) extended[k] = (extended[k] ?? 0) + v;
  return {
    cpu: profiles.reduce((n, p) => n + p.cpu, 0),
    memoryMb: profiles.reduce((n, p) => n + p.memoryMb, 0),
    extended,
  };
}

export function createTaskManager(options: TaskManagerOptions) {
  const {
    clusterId,
    tmId = newTaskManagerId(),
    transportFor,
    heartbeatIntervalMs = 1000,
    heartbeatTimeoutMs = 5000,
    log: baseLog = silentLogger,
  } = options;
  const log = baseLog.child({ role: "taskmanager", tm: tmId });
  const subject = subjects.taskManager(clusterId, tmId);
  const rmSubject = subjects.resourceManager(clusterId);
  const profiles = options.slots ?? [ANY];
  const slots = new SlotTable(tmId, profiles);
  const totalResources = options.totalResources ?? sum(profiles);
  const tokens = new FencingTokens();
  const tasks = new Map<string, Running>();
  /** Tasks being deployed (not in `tasks` yet), with the checkpoint triggers they missed. */
  const settingUp = new Map<string, SettingUp>();
  const graphs = new Map<string, Promise<JobGraph>>();
  const client = (target: string, timeoutMs = 5000): any =>
    createClient<any>(transportFor(target), { timeoutMs });
  let stopped = false;
  let registered = false;
  let lastRmContact = 0;

  const jmMonitor = new HeartbeatMonitor<string>({
    intervalMs: heartbeatIntervalMs,
    timeoutMs: heartbeatTimeoutMs,
    ping: (jobId, jmSubject) => syncSlots(jobId, jmSubject),
    onLost: (jobId, jmSubject, reason) => {
      log.warn(
        { job: jobId, reason },
        "JobManager lost: canceling its tasks and freeing its slots",
      );
      void cancelJob(jobId, Number.POSITIVE_INFINITY, `JobManager lost: ${reason}`).then(() => {
        if (slots.freeJob(jobId).length === 0) return;
        reportNow?.();
        // If a JobManager of the job does answer after all (one that was taking over while
        // this TaskManager gave up), it must not keep counting on the freed slots: to it, this
        // TaskManager is gone (its next attempt asks the ResourceManager for slots again).
        void unwrap(
          client(jmSubject).taskmanagers[":tmId"].lost.$post({
            param: { tmId },
            json: {
              reason: `TaskManager ${tmId} freed the job's slots: JobManager lost (${reason})`,
            },
          }),
        ).catch(() => {});
      });
    },
  });

  const key = (d: Pick<TaskDescriptor, "jobId" | "attempt" | "vertexId" | "subtask">) =>
    `${d.jobId}/${d.attempt}/${d.vertexId}/${d.subtask}`;

  function graphFor(d: TaskDescriptor): Promise<JobGraph> {
    const id = `${d.jobId}/${d.artifact}/${d.parallelism ?? ""}/${JSON.stringify(d.vertexParallelism ?? {})}/${JSON.stringify(d.args)}`;
    let graph = graphs.get(id);
    if (!graph) {
      graph = (async () => {
        const bytes = await options.artifacts.get(d.artifact);
        if (!bytes)
          throw new FlotillaError(
            ErrorCode.NOT_FOUND,
            `artifact ${d.artifact} is not in the blob store`,
          );
        const job = await loadArtifact(bytes, { name: `job ${d.jobId}` });
        return job.graph({
          args: d.args,
          ...(d.parallelism ? { parallelism: d.parallelism } : {}),
          ...(d.vertexParallelism ? { vertexParallelism: d.vertexParallelism } : {}),
        });
      })();
      graphs.set(id, graph);
      graph.catch(() => graphs.delete(id));
    }
    return graph;
  }

  /** Calls the task's JM, retrying a little; a JM that stays away is the JM monitor's business. */
  function toJm(running: Running, call: (jm: any) => Promise<unknown>, what: string): void {
    running.reports = running.reports.then(async () => {
      // At least five tries and the heartbeat timeout: a lost acknowledgement costs a whole
      // checkpoint, so a report rides out a NATS restart that the JobManager itself survives.
      const started = Date.now();
      for (let i = 0; i < 5 || Date.now() - started < heartbeatTimeoutMs; i++) {
        try {
          await unwrap(call(client(running.descriptor.jmSubject)) as Promise<never>);
          return;
        } catch (err) {
          if (!toFlotillaError(err).retryable) {
            log.warn({ err: (err as Error).message, what }, "JobManager refused a report");
            return;
          }
          await sleep(Math.min(50 * 2 ** i, 500));
        }
      }
      log.warn({ what, job: running.descriptor.jobId }, "JobManager unreachable: report dropped");
    });
  }

  async function deploy(d: TaskDescriptor): Promise<void> {
    const k = key(d);
    if (tasks.has(k) || settingUp.has(k)) return; // a retried deployment
    slots.byAllocation(d.allocationId, d.jobId);
    // Checkpoint triggers of this attempt that come while the task is set up (the artifact may
    // still be loading) are kept for it: a source that missed its trigger would leave every
    // channel that already delivered the barrier blocked, and the job stalled until the
    // checkpoint times out.
    const pending: SettingUp = { jobId: d.jobId, attempt: d.attempt, triggers: [] };
    settingUp.set(k, pending);
    try {
      await setUp(d, k, pending);
    } finally {
      settingUp.delete(k);
    }
  }

  async function setUp(d: TaskDescriptor, k: string, pending: SettingUp): Promise<void> {
    // Tasks of an older attempt of this job (left by a JobManager that was replaced) go first.
    await cancelJob(d.jobId, d.attempt - 1);
    const graph = await graphFor(d);
    graph.vertex(d.vertexId);
    const jm = () => client(d.jmSubject);
    const running: Running = {
      descriptor: d,
      task: undefined as unknown as Task,
      reports: Promise.resolve(),
    };
    const attempt = { attempt: d.attempt, vertexId: d.vertexId, subtask: d.subtask };
    running.task = deployTask({
      graph,
      jobId: d.jobId,
      vertexId: d.vertexId,
      subtask: d.subtask,
      attempt: d.attempt,
      channels: options.channelsFor(d.jobId, d.attempt),
      services: {
        log,
        args: d.args,
        connectNats: (servers) =>
          options.connectNats?.(servers) ??
          Promise.reject(new FlotillaError(ErrorCode.UNAVAILABLE, "no NATS here")),
        publishResults: async (sinkId, values, batchId) => {
          await unwrap(
            jm().results.$post({ json: { sinkId, values, ...(batchId ? { batchId } : {}) } }),
          );
        },
      },
      checkpointing: {
        store: async (id, bytes) => {
          const handle = snapshotKey(d.jobId, id, d.vertexId, d.subtask);
          await options.snapshots.put(handle, bytes);
          return handle;
        },
        acknowledge: (checkpointId, handle, bytes) =>
          toJm(
            running,
            (c) => c.checkpoints.ack.$post({ json: { ...attempt, checkpointId, handle, bytes } }),
            "ack",
          ),
        decline: (checkpointId, reason) =>
          toJm(
            running,
            (c) => c.checkpoints.decline.$post({ json: { ...attempt, checkpointId, reason } }),
            "decline",
          ),
        sourceEnded: () =>
          toJm(running, (c) => c.sources.ended.$post({ json: attempt }), "source ended"),
      },
      ...(d.restore ? { restore: () => loadSnapshots(options.snapshots, d.restore!) } : {}),
      onStateChange: (state, error) =>
        toJm(
          running,
          (c) =>
            c.tasks.state.$post({
              json: {
                ...attempt,
                state,
                ...(error ? { error: { code: error.code, message: error.message } } : {}),
                metrics: running.task?.metrics(),
              },
            }),
          `state ${state}`,
        ),
    });
    tasks.set(k, running);
    if (pending.canceled !== undefined) void running.task.cancel(pending.canceled);
    else if (running.task.vertex.source)
      for (const { id, final } of pending.triggers) running.task.triggerCheckpoint(id, final);
    running.task
      .run()
      .catch(() => {})
      .finally(() => {
        void running.reports.finally(() => tasks.delete(k));
      });
  }

  async function cancelJob(
    jobId: string,
    upToAttempt: number,
    reason = "canceled by the JobManager",
  ): Promise<number> {
    for (const pending of settingUp.values())
      if (pending.jobId === jobId && pending.attempt <= upToAttempt) pending.canceled ??= reason;
    const matching = [...tasks.values()].filter(
      (r) => r.descriptor.jobId === jobId && r.descriptor.attempt <= upToAttempt,
    );
    await Promise.all(matching.map((r) => r.task.cancel(reason)));
    return matching.length;
  }

  function tasksOf(jobId: string, attempt?: number): Running[] {
    return [...tasks.values()].filter(
      (r) =>
        r.descriptor.jobId === jobId && (attempt === undefined || r.descriptor.attempt === attempt),
    );
  }

  /**
   * The heartbeat to a job's JobManager offers the job's active slots again, as Flink's
   * TaskExecutor offers its slots to every new JobMaster leader and frees the ones the JobMaster
   * does not hold (syncSlotsWithSnapshotFromJobMaster): a JobManager recovered after a failover
   * gets the slots back (its first deployment replaces their old tasks), and a slot that no
   * JobManager holds any more is freed with its tasks instead of staying allocated for good.
   *
   * While a JobManager is being replaced, the old one may still answer for the job (a deposed
   * leader that has not stopped yet); it does not hold the new JobManager's slots. So where the
   * transport can, every answer is collected, and a slot is freed only if none of them holds it.
   */
  async function syncSlots(jobId: string, jmSubject: string): Promise<void> {
    const active = slots
      .reports()
      .filter((s) => s.jobId === jobId && s.state === SlotState.ACTIVE && s.allocationId);
    if (active.length === 0) {
      await unwrap(client(jmSubject, heartbeatIntervalMs).heartbeat.$get());
      return;
    }
    const offer = {
      tmId,
      tmSubject: subject,
      slots: active.map(({ slotId, allocationId, profile }) => ({ slotId, allocationId, profile })),
    };
    const held = await offerToAll(jmSubject, offer);
    for (const slot of active) {
      if (held.has(slot.slotId)) continue;
      log.warn(
        { slot: slot.slotId, job: jobId, allocation: slot.allocationId },
        "no JobManager of the job holds this slot (any more): freeing it",
      );
      await releaseSlot(slot.slotId, slot.allocationId!, "the JobManager does not hold the slot");
    }
  }

  /** Slot ids that at least one JobManager answering on `jmSubject` accepted. */
  async function offerToAll(jmSubject: string, offer: unknown): Promise<Set<string>> {
    const transport = transportFor(jmSubject);
    if (!transport.sendAll) {
      const { accepted } = (await unwrap(
        client(jmSubject, heartbeatIntervalMs).slots.offer.$post({ json: offer }),
      )) as { accepted: string[] };
      return new Set(accepted);
    }
    const replies = await transport.sendAll(
      {
        method: "POST",
        path: "/slots/offer",
        headers: { "content-type": JSON_TYPE },
        body: json.encode(offer),
      },
      heartbeatIntervalMs,
    );
    const held = new Set<string>();
    let refused: FlotillaError | undefined;
    for (const r of replies) {
      const decoded = r.body ? decodeBody(codecFor(r.headers["content-type"]) ?? json, r.body) : {};
      if (r.status >= 400) {
        refused ??= fromWire(r.status, decoded);
        continue;
      }
      for (const id of (decoded as { accepted?: string[] }).accepted ?? []) held.add(id);
    }
    if (refused && held.size === 0 && replies.every((r) => r.status >= 400)) throw refused;
    return held;
  }

  /** Cancels the tasks running in an allocation and frees its slot; false if it moved on. */
  async function releaseSlot(slotId: string, allocationId: string, why: string): Promise<boolean> {
    const slot = slots.get(slotId);
    if (slot.jobId && slot.allocationId === allocationId) {
      const still = tasksOf(slot.jobId).filter((r) => r.descriptor.allocationId === allocationId);
      await Promise.all(still.map((r) => r.task.cancel(why)));
    }
    const freed = slots.free(slotId, allocationId);
    if (freed) reportNow?.();
    if (!slots.jobs().length) jmMonitor.stop();
    return freed;
  }

  async function offer(slot: SlotReport, jmSubject: string): Promise<void> {
    const { slotId, allocationId, jobId } = slot;
    for (let i = 0; i < 5 && slots.get(slotId).allocationId === allocationId; i++) {
      try {
        const { accepted } = (await unwrap(
          client(jmSubject).slots.offer.$post({
            json: {
              tmId,
              tmSubject: subject,
              slots: [{ slotId, allocationId, profile: slot.profile }],
            },
          }),
        )) as { accepted: string[] };
        if (accepted.includes(slotId)) {
          slots.activate(slotId, allocationId!);
          jmMonitor.monitor(jobId!, jmSubject);
        } else {
          slots.free(slotId, allocationId);
        }
        return;
      } catch (err) {
        if (!toFlotillaError(err).retryable) break;
        await sleep(100 * 2 ** i);
      }
    }
    log.warn({ slot: slotId, job: jobId }, "slot offer not accepted: freeing the slot");
    slots.free(slotId, allocationId);
  }

  const app = createBlock({ log })
    .get("/healthz", (c) => reply(c, { ok: true, tmId, registered }))
    .get("/heartbeat", (c) => reply(c, { tmId, slots: slots.reports() }))
    .get("/slots", (c) => reply(c, slots.reports()))
    .post(
      "/slots/:slotId/allocate",
      fencing(tokens, () => BlockRole.RESOURCE_MANAGER),
      params(z.object({ slotId: z.string() })),
      body(allocateSchema),
      (c) => {
        const { slotId } = c.req.valid("param");
        const { jobId, allocationId, jmSubject } = c.req.valid("json");
        const slot = slots.allocate(slotId, jobId, allocationId);
        void offer({ ...slot }, jmSubject);
        return reply(c, { slotId, allocationId, state: slot.state });
      },
    )
    .post(
      "/slots/:slotId/free",
      params(z.object({ slotId: z.string() })),
      body(freeSlotSchema),
      async (c) => {
        const { slotId } = c.req.valid("param");
        const freed = await releaseSlot(slotId, c.req.valid("json").allocationId, "slot freed");
        return reply(c, { freed });
      },
    )
    .post("/tasks", body(taskDescriptorSchema), async (c) => {
      const d = c.req.valid("json");
      await deploy(d);
      return reply(c, { deployed: key(d) }, 202);
    })
    .post(
      "/jobs/:jobId/cancel",
      params(z.object({ jobId: z.string() })),
      body(jobAttemptSchema),
      async (c) => {
        const canceled = await cancelJob(c.req.valid("param").jobId, c.req.valid("json").attempt);
        return reply(c, { canceled });
      },
    )
    .post(
      "/jobs/:jobId/checkpoints/:id/trigger",
      params(z.object({ jobId: z.string(), id: z.coerce.number().int().min(1) })),
      body(triggerSchema),
      (c) => {
        const { jobId, id } = c.req.valid("param");
        const { attempt, final } = c.req.valid("json");
        const sources = tasksOf(jobId, attempt).filter((r) => r.task.vertex.source);
        for (const r of sources) r.task.triggerCheckpoint(id, final);
        for (const pending of settingUp.values())
          if (pending.jobId === jobId && pending.attempt === attempt)
            pending.triggers.push({ id, final });
        return reply(c, { triggered: sources.length });
      },
    )
    .post(
      "/jobs/:jobId/checkpoints/:id/complete",
      params(z.object({ jobId: z.string(), id: z.coerce.number().int().min(1) })),
      async (c) => {
        const { jobId, id } = c.req.valid("param");
        const running = tasksOf(jobId);
        await Promise.all(running.map((r) => r.task.notifyCheckpointComplete(id)));
        return reply(c, { notified: running.length });
      },
    );

  async function registerLoop(): Promise<void> {
    const rm = client(rmSubject, 2000);
    let backoff = 100;
    while (!stopped) {
      try {
        const answer = (await unwrap(
          rm.taskmanagers.$post({
            json: { tmId, subject, slots: slots.reports(), totalResources },
          }),
        )) as { rmToken: number };
        tokens.admit(answer.rmToken, BlockRole.RESOURCE_MANAGER);
        registered = true;
        lastRmContact = Date.now();
        log.info({ rm: rmSubject, token: answer.rmToken }, "registered at the ResourceManager");
        return;
      } catch (err) {
        log.debug({ err: (err as Error).message }, "ResourceManager not reachable yet; retrying");
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  /** Slot reports double as the TM's heartbeat to the RM; an RM that forgot us gets us again. */
  /** Wakes the report loop at once: freed slots reach the RM now, not at the next heartbeat. */
  let reportNow: (() => void) | undefined;

  /** Counters of running tasks, to each task's JobManager, once per heartbeat (best effort). */
  function reportMetrics(): void {
    const perJm = new Map<string, { attempt: number; tasks: unknown[] }>();
    for (const r of tasks.values()) {
      if (r.task.state !== "running") continue;
      const { jmSubject, attempt, vertexId, subtask } = r.descriptor;
      const batch = perJm.get(jmSubject) ?? { attempt, tasks: [] };
      batch.tasks.push({ vertexId, subtask, metrics: r.task.metrics() });
      perJm.set(jmSubject, batch);
    }
    for (const [jmSubject, batch] of perJm)
      void unwrap((client(jmSubject) as any).tasks.metrics.$post({ json: batch })).catch(() => {});
  }

  async function reportLoop(): Promise<void> {
    const rm = client(rmSubject, heartbeatIntervalMs);
    while (!stopped) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, heartbeatIntervalMs);
        reportNow = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      reportNow = undefined;
      if (stopped) return;
      reportMetrics();
      if (!registered) continue;
      try {
        const { known } = (await unwrap(
          rm.taskmanagers[":tmId"].heartbeat.$put({
            param: { tmId },
            json: { slots: slots.reports() },
          }),
        )) as {
          known: boolean;
        };
        lastRmContact = Date.now();
        if (!known) {
          registered = false;
          await registerLoop();
        }
      } catch {
        if (Date.now() - lastRmContact > heartbeatTimeoutMs) {
          log.warn("ResourceManager lost: registering again");
          registered = false;
          await registerLoop();
        }
      }
    }
  }

  let loops: Promise<void> | undefined;
  return {
    tmId,
    subject,
    app,
    slots: () => slots.reports(),
    runningTasks: () => [...tasks.values()].map((r) => ({ ...r.descriptor, state: r.task.state })),
    isRegistered: () => registered,
    start(): void {
      loops ??= registerLoop().then(() => reportLoop());
    },
    async stop(): Promise<void> {
      stopped = true;
      reportNow?.(); // the report loop ends now, not after its heartbeat sleep
      jmMonitor.stop();
      await Promise.all([...tasks.values()].map((r) => r.task.cancel("TaskManager stopping")));
      await loops?.catch(() => {});
    },
  };
}

export type TaskManager = ReturnType<typeof createTaskManager>;
export type TaskManagerApp = TaskManager["app"];
