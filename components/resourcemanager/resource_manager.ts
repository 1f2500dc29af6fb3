/**
 * `createResourceManager()`: the RM block. It wires the SlotManager to its routes, heartbeats
 * every registered TaskManager, carries out the SlotManager's decisions through
 * `transportFor(subject)` (NATS or in-process alike), and serves itself on NATS when given `nc`.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import {
  Admission,
  ErrorCode,
  ensureError,
  FlotillaError,
  InvalidArgumentError,
  type Logger,
  silentLogger,
  subjects,
  type TaskManagerId,
  UnavailableError,
} from "../core/mod.ts";
import {
  type ResourceManagerApp,
  resourceManagerRoutes,
  taskManagerHeartbeatSchema,
} from "../protocol/mod.ts";
import {
  HeartbeatMonitor,
  type NatsServer,
  natsTransport,
  rejected,
  serveNats,
  type Transport,
  unwrap,
} from "../rpc/mod.ts";
import {
  type CompiledResourceManagerConfig,
  compileResourceManagerConfig,
  type ResourceManagerConfig,
} from "./config.ts";
import { staticDriver } from "./drivers/static.ts";
import { ActionExecutor } from "./executor.ts";
import { type ResourceManagerCore, resourceManagerHandlers } from "./handlers.ts";
import { SlotManager } from "./slot_manager.ts";
import type { AffectedJob, ResourceDriver, TaskManagerRegistration } from "./types.ts";

/** Registrations checked at once; more are refused (429) until one is done. */
const MAX_VERIFYING = 64;

export interface ResourceManagerOptions {
  /** Serve on NATS (on `subject`, in no queue group: see start()) when given. */
  nc?: NatsConnection;
  /** How to reach a TaskManager or JobManager subject. @default natsTransport(nc, subject) */
  transportFor?: (subject: string) => Transport;
  /** @default "default" */
  clusterId?: string;
  /** @default subjects.resourceManager(clusterId) */
  subject?: string;
  /** This RM's fencing token (its leader lease revision): sent on every call it makes. */
  token: number;
  /** @default staticDriver() */
  driver?: ResourceDriver;
  config?: ResourceManagerConfig;
  log?: Logger;
  /** The clock of idle and pending timeouts. @default Date.now */
  now?: () => number;
  /**
   * Whether this RM still leads (its lease's own deadline): requests arriving while it does not
   * go unanswered, even before stop() ran (a process resumed after a pause). @default always
   */
  leading?: () => boolean;
}

export interface ResourceManager {
  readonly app: ResourceManagerApp;
  readonly subject: string;
  readonly config: CompiledResourceManagerConfig;
  readonly slotManager: SlotManager;
  /** Serve on NATS (when `nc` was given), heartbeat TaskManagers and watch the clock. */
  start(): Promise<void>;
  /** Stop serving and heartbeating, wait for calls in flight, and stop the driver. */
  stop(): Promise<void>;
  /** Resolves when every call the RM started (and what they led to) has finished. */
  settled(): Promise<void>;
}

export function createResourceManager({
  nc,
  transportFor = nc ? (subject) => natsTransport(nc, subject) : undefined,
  clusterId = "default",
  subject = subjects.resourceManager(clusterId),
  token,
  driver = staticDriver(),
  config: options = {},
  log = silentLogger,
  now = Date.now,
  leading = () => true,
}: ResourceManagerOptions): ResourceManager {
  if (!transportFor) {
    throw new InvalidArgumentError(
      "createResourceManager needs `nc` or `transportFor` to reach TaskManagers and JobManagers",
    );
  }
  const config = compileResourceManagerConfig(options);
  const slotManager = new SlotManager({
    idleTimeoutMs: config.idleTimeoutMs,
    pendingTaskManagerTimeoutMs: config.pendingTaskManagerTimeoutMs,
    canStartTaskManager: (profile) => driver.canStart(profile),
    now,
  });
  let running = false;
  let server: NatsServer | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;

  const executor = new ActionExecutor({
    slotManager,
    driver,
    transportFor,
    token,
    rpc: { timeoutMs: config.rpcTimeoutMs, attemptTimeoutMs: config.rpcAttemptTimeoutMs },
    log,
    removeTaskManager: (tmId, reason) => core.unregister(tmId, reason),
  });

  /** Registrations past `slotmanager.number-of-slots.max` are refused: none grows the RM past it. */
  function refuseOverMaxSlots(registration: TaskManagerRegistration, known: boolean): void {
    const before = known ? (slotManager.taskManager(registration.tmId)?.slots.length ?? 0) : 0;
    const total = slotManager.overview().slotsTotal - before + registration.slots.length;
    if (total > config.maxSlots)
      throw new FlotillaError(
        ErrorCode.TOO_MANY_REQUESTS,
        `registering TaskManager ${registration.tmId} would make ${total} slots, over slotmanager.number-of-slots.max (${config.maxSlots})`,
      );
  }

  /**
   * A new TaskManager is registered only once it answers a heartbeat at the subject it gave, as
   * itself (Flink's RM connects to a TaskExecutor before registering it): a made-up registration
   * costs the RM one call, not a TaskManager to heartbeat until it is lost.
   */
  async function confirmAnswers({ tmId, subject }: TaskManagerRegistration): Promise<void> {
    await checking.admit(async () => {
      try {
        const reply = await unwrap(executor.taskManager(subject).heartbeat.$get());
        if (taskManagerHeartbeatSchema.safeParse(reply).data?.tmId === tmId) return;
        throw new Error(`its heartbeat reply is not TaskManager ${tmId}'s`);
      } catch (err) {
        throw new UnavailableError(
          `TaskManager ${tmId} does not answer at ${subject} (${ensureError(err).message}): not registered`,
        );
      }
    });
  }
  const checking = new Admission(MAX_VERIFYING, "TaskManager registrations being checked");

  const heartbeats = new HeartbeatMonitor<string>({
    intervalMs: config.heartbeatIntervalMs,
    timeoutMs: config.heartbeatTimeoutMs,
    ping: async (id, tmSubject) => {
      const tmId = id as TaskManagerId;
      const reply = await unwrap(executor.taskManager(tmSubject).heartbeat.$get());
      const parsed = taskManagerHeartbeatSchema.safeParse(reply);
      if (!parsed.success || parsed.data.tmId !== tmId) {
        const why = parsed.success ? `tmId ${parsed.data.tmId}` : parsed.error.issues[0]?.message;
        rejected(tmSubject, "heartbeat reply without a valid slot report; slots unchanged", log, {
          tmId,
          why,
        });
        return;
      }
      executor.run(slotManager.reportSlots(tmId, parsed.data.slots));
    },
    onLost: (id, tmSubject, reason) => {
      log.warn({ tmId: id, reason }, "TaskManager heartbeat lost");
      executor.forget(tmSubject);
      executor.run(slotManager.unregisterTaskManager(id as TaskManagerId, reason));
    },
  });

  const core: ResourceManagerCore = {
    clusterId,
    slotManager,
    lastHeartbeat(tmId) {
      const silence = heartbeats.silenceMs(tmId);
      return silence === undefined ? undefined : Math.round(now() - silence);
    },
    async register(registration) {
      const known = slotManager.hasTaskManager(registration.tmId);
      refuseOverMaxSlots(registration, known);
      if (!known) {
        await confirmAnswers(registration);
        refuseOverMaxSlots(registration, slotManager.hasTaskManager(registration.tmId));
      }
      executor.run(slotManager.registerTaskManager(registration));
      if (running) heartbeats.monitor(registration.tmId, registration.subject);
      log.info(
        { tmId: registration.tmId, slots: registration.slots.length, again: known },
        "TaskManager registered",
      );
      return {
        rmToken: token,
        heartbeatIntervalMs: config.heartbeatIntervalMs,
        heartbeatTimeoutMs: config.heartbeatTimeoutMs,
      };
    },
    heartbeat(tmId, slots) {
      const actions = slotManager.reportSlots(tmId, slots);
      if (!actions) return false;
      heartbeats.received(tmId);
      executor.run(actions);
      return true;
    },
    unregister(tmId, reason) {
      const info = slotManager.taskManager(tmId);
      const actions = slotManager.unregisterTaskManager(tmId, reason);
      if (!info || !actions) return undefined;
      heartbeats.unmonitor(tmId);
      executor.forget(info.subject);
      executor.run(actions);
      const lost = actions.find((a) => a.kind === "tm-lost");
      return (lost?.kind === "tm-lost" ? lost.jobs : []) satisfies AffectedJob[];
    },
    declare(jobId, { jmSubject, requirements }) {
      log.info({ jobId, requirements }, "job requirements declared");
      executor.run(slotManager.declareRequirements(jobId, jmSubject, requirements));
    },
    clear(jobId) {
      log.info({ jobId }, "job requirements cleared");
      return slotManager.clearRequirements(jobId);
    },
  };

  const app = resourceManagerRoutes(resourceManagerHandlers(core), { log });

  return {
    app,
    subject,
    config,
    slotManager,
    async start() {
      if (running) return;
      running = true;
      for (const tm of slotManager.taskManagers()) heartbeats.monitor(tm.tmId, tm.subject);
      ticker = setInterval(() => {
        try {
          executor.run(slotManager.checkTimeouts());
        } catch (err) {
          log.error({ err: ensureError(err) }, "resource check failed");
        }
      }, config.heartbeatIntervalMs);
      if (nc) {
        // No queue group: a deposed leader that is frozen or cut off keeps its subscription on
        // the server until the server notices (minutes), and in a queue group it would swallow
        // its share of the requests. Without one every request also reaches the live leader,
        // whose reply is the one that arrives.
        // Once the lease is lost, what is still buffered for it goes unanswered.
        server = serveNats(app, { nc, subject, log, accept: () => running && leading() });
        // Once start() resolves, calls from other connections find the subscription.
        await nc.flush();
      }
      log.info({ subject, driver: driver.kind }, "ResourceManager started");
    },
    async stop() {
      running = false;
      if (ticker) clearInterval(ticker);
      ticker = undefined;
      heartbeats.stop();
      for (const id of heartbeats.ids()) heartbeats.unmonitor(id);
      await server?.stop();
      server = undefined;
      await executor.settled();
      await driver.stop?.();
    },
    settled: () => executor.settled(),
  };
}
