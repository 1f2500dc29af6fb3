/**
 * The blocks a role process runs, each started on its own: the ResourceManager and the
 * Dispatcher under leader election, a TaskManager, a /healthz endpoint. `roles.ts` composes them
 * per role; `auto_role.ts` switches one process between master and TaskManager with them.
 */

import type { NatsConnection } from "@nats-io/transport-node";
import { BlockRole, type Config, InvalidConfigError, type Logger, subjects } from "../core/mod.ts";
import {
  createDispatcher,
  type DispatcherStores,
  dispatcherApp,
  dispatcherLimitsFrom,
  type GraphBuilder,
} from "../dispatcher/mod.ts";
import type { HaServices } from "../ha/mod.ts";
import { jobManagerDeadlinesFrom, schedulerOptionsFrom } from "../jobmanager/mod.ts";
import { trackResourceManager, trackScrapeTargets } from "../metrics/mod.ts";
import { createResourceManager, resourceManagerConfigFrom } from "../resourcemanager/mod.ts";
import {
  callDeadlinesFrom,
  type FetchApp,
  type HttpServer,
  natsTransport,
  send,
  serveHttp,
} from "../rpc/mod.ts";
import { type JobNatsSettings, jobNatsConnector, jobNatsSettings } from "../security/mod.ts";
import { createTaskManager, JobProcesses } from "../taskmanager/mod.ts";
import { refuseCredentialPaths } from "./credential_paths.ts";
import { driverFor } from "./drivers.ts";
import { type Fabric, natsFabric } from "./fabric.ts";
import { type Fence, fencedFabric, fencedStores, fencedTransports } from "./fencing.ts";
import { leaseTokenVerifier } from "./lease_tokens.ts";
import { dispatcherStores } from "./stores.ts";

export interface RoleContext {
  config: Config;
  log: Logger;
  nc: NatsConnection;
  ha: HaServices;
  clusterId: string;
  /** Names this process in leader leases. */
  holder: string;
  /** Puts a REST app behind this process's token check (`restGuardFrom`). */
  guardRest: (app: FetchApp) => FetchApp;
  /** Where submitted and recovered jobs' graphs are built (`dispatcher.graph-sandbox`). */
  buildGraph: GraphBuilder;
  /** The REST endpoint's certificate and key (`rest.tls.*`): HTTPS when set. */
  restTls?: { cert: string; key: string };
}

export interface Leadership {
  isLeader(): boolean;
  /** Steps down if leading and stops contending (resigning, so a standby takes over at once). */
  stop(): Promise<void>;
}

/**
 * Runs `lead(token)` while this process holds the role's lease, and the step-down it returns
 * when the lease is lost (or on stop, which resigns so a standby takes over at once).
 */
export function whileLeader(
  { ha, holder, clusterId, config, log }: RoleContext,
  role: BlockRole,
  what: string,
  lead: (token: number, isLeader: () => boolean) => () => Promise<void> | void,
  fence?: Fence,
): Leadership {
  let stepDown: (() => Promise<void> | void) | undefined;
  const subject = subjects.leader(clusterId, role);
  const election = ha.election({
    role,
    holder,
    subject,
    leaseMs: config["ha.lease"],
    ...(fence?.lease ? { under: { lease: fence.lease, held: fence.active } } : {}),
  });
  election.start({
    onElected(token) {
      log.info({ token }, `elected ${what} leader`);
      stepDown = lead(token, () => election.isLeader());
    },
    onRevoked(reason) {
      log.warn({ reason }, `${what} leadership lost: stepping down`);
      void stepDown?.();
      stepDown = undefined;
    },
  });
  return {
    isLeader: () => election.isLeader(),
    async stop() {
      await stepDown?.();
      stepDown = undefined;
      await election.stop({ resign: true });
    },
  };
}

/**
 * A ResourceManager under leader election. It answers requests, and its calls to TaskManagers
 * and JobManagers go out, only while its lease (and `fence`, when given) holds: a deposed RM
 * resumed after a pause neither handles what was buffered for it nor, when its timers fire
 * before its step-down, tells a JobManager that a TaskManager is lost.
 */
export function startResourceManager(
  ctx: RoleContext,
  { fence }: { fence?: Fence } = {},
): () => Promise<void> {
  const { config, log, nc, clusterId, holder } = ctx;
  const leadership = whileLeader(
    ctx,
    BlockRole.RESOURCE_MANAGER,
    "ResourceManager",
    (token, isLeader) => {
      const leading = () => isLeader() && (fence?.active() ?? true);
      const driver = driverFor(config, log);
      const rm = createResourceManager({
        nc,
        leading,
        transportFor: fencedTransports((subject) => natsTransport(nc, subject), {
          who: holder,
          active: leading,
        }),
        clusterId,
        token,
        driver,
        config: resourceManagerConfigFrom(config),
        log,
      });
      void rm.start();
      const untrack = trackResourceManager(() => rm.slotManager.overview());
      const untrackTargets = trackScrapeTargets(() => driver.metricsHosts?.() ?? []);
      return () => {
        untrack();
        untrackTargets();
        return rm.stop();
      };
    },
    fence,
  );
  return leadership.stop;
}

export interface DispatcherService {
  /** The REST API, answering 503 (but /healthz) while this Dispatcher is a standby. */
  app: FetchApp;
  isLeader(): boolean;
  stop(): Promise<void>;
}

const standbyAnswer = () =>
  Response.json(
    {
      errors: [
        "this dispatcher is a standby: ask the leader (or retry, it takes over when the leader fails)",
      ],
      code: "UNAVAILABLE",
    },
    { status: 503 },
  );

/**
 * A Dispatcher under leader election. Each leadership term gets a fresh Dispatcher whose
 * fabric and HA stores are fenced by the lease (and by `fence`, when given: the `auto` role's
 * master lease): the moment the lease lapses, even in a process that was paused and has not
 * run its step-down yet, its JobManagers' calls are refused, its subjects stop answering and
 * its HA writes are refused. The step-down then suspends its JobManagers (no result: the jobs
 * are not over) and the new leader recovers them. While it leads it serves the Dispatcher
 * subject (in no queue group: a frozen ex-leader's subscription would take half the requests)
 * and recovers the stored jobs. `fabric` and `stores` default to the process's NATS fabric and
 * HA stores.
 */
export function dispatcherService(
  ctx: RoleContext,
  {
    fabric = natsFabric(ctx.nc, ctx.clusterId),
    stores = dispatcherStores(ctx.ha),
    fence: outer,
  }: { fabric?: Fabric; stores?: DispatcherStores; fence?: Fence } = {},
): DispatcherService {
  const { config, log, clusterId, holder } = ctx;
  /** The leading term's REST API; undefined while a standby. */
  let termApp: FetchApp | undefined;
  const leadership = whileLeader(
    ctx,
    BlockRole.DISPATCHER,
    "Dispatcher",
    (token, isLeader) => {
      let active = true;
      const fence: Fence = {
        who: holder,
        active: () => active && isLeader() && (outer?.active() ?? true),
      };
      const termFabric = fencedFabric(fabric, fence);
      const dispatcher = createDispatcher({
        clusterId,
        fabric: termFabric,
        stores: fencedStores(stores, fence),
        // The term's fencing token grows from term to term: recovered jobs' attempts start above it.
        term: token,
        deadlines: jobManagerDeadlinesFrom(config),
        slotRequestTimeoutMs: config["slot.request.timeout"],
        ...dispatcherLimitsFrom(config),
        buildGraph: ctx.buildGraph,
        scheduler: schedulerOptionsFrom(config),
        leading: fence.active,
        log: log.child({ term: token }),
      });
      // Guarded on NATS as on HTTP: the CLI reaches it either way, with the same token.
      const app = ctx.guardRest(
        dispatcherApp(dispatcher, {
          settings: config,
          submit: config["web.submit.enable"],
          asyncOperations: { storeDurationMs: config["rest.async.store-duration"] },
        }),
      );
      termApp = app;
      const served = termFabric.serve(subjects.dispatcher(clusterId), app);
      void dispatcher
        .recover()
        .catch((err: Error) => log.error({ err: err.message }, "job recovery failed"));
      return async () => {
        active = false;
        if (termApp === app) termApp = undefined;
        await served.stop();
        await dispatcher.suspend();
      };
    },
    outer,
  );
  // A standby answers REST with 503 (but /healthz): only the leader knows the running jobs.
  const gated: FetchApp = {
    fetch: (request: Request) =>
      termApp && leadership.isLeader()
        ? termApp.fetch(request)
        : new URL(request.url).pathname === "/healthz"
          ? Response.json({ ok: true, dispatcher: "standby" })
          : standbyAnswer(),
  };
  return {
    app: gated,
    isLeader: leadership.isLeader,
    stop: leadership.stop,
  };
}

export async function startDispatcher(
  ctx: RoleContext,
): Promise<{ http: HttpServer; stop(): Promise<void> }> {
  const service = dispatcherService(ctx);
  const http = await serveHttp(service.app, {
    port: ctx.config["rest.port"],
    hostname: ctx.config["rest.address"],
    ...(ctx.restTls ? { tls: ctx.restTls } : {}),
  });
  ctx.log.info({ url: http.url }, "REST endpoint up");
  return {
    http,
    async stop() {
      await http.close();
      await service.stop();
    },
  };
}

export interface RunningTaskManager {
  readonly tmId: string;
  /**
   * Cancels its tasks and stops serving; with `unregister` it also tells the ResourceManager it
   * is gone (which tells the JobManagers), rather than leaving that to the heartbeat timeout.
   */
  stop(options?: { unregister?: boolean }): Promise<void>;
}

export function startTaskManager({
  config,
  log,
  nc,
  ha,
  clusterId,
  holder,
}: RoleContext): RunningTaskManager {
  const fabric = natsFabric(nc, clusterId);
  // A driven TaskManager gets taskmanager.slots 1 and that slot's profile from its driver.
  const slotProfile = {
    cpu: config["taskmanager.cpu"],
    memoryMb: config["taskmanager.memory-mb"],
    extended: config["taskmanager.extended-resources"],
  };
  const slots = Array.from({ length: config["taskmanager.slots"] }, () => slotProfile);
  const tm = createTaskManager({
    clusterId,
    ...(config["taskmanager.id"] ? { tmId: config["taskmanager.id"] } : {}),
    transportFor: fabric.transportFor,
    channelsFor: fabric.channelsFor,
    artifacts: { get: (key) => ha.blobs.get(key) },
    snapshots: dispatcherStores(ha).snapshots,
    slots,
    // Job code connects to NATS from its job process; in this process only with `none`.
    ...(config["taskmanager.job-process"] === "process"
      ? { jobProcesses: jobProcessesFor({ config, log, nc, ha, clusterId }) }
      : { connectNats: jobNatsConnector(config) }),
    rpc: callDeadlinesFrom(config),
    heartbeatIntervalMs: config["heartbeat.interval"],
    heartbeatTimeoutMs: config["heartbeat.timeout"],
    // Any client that reaches the TaskManager's subject could present a made-up RM token.
    verifyFencingToken: leaseTokenVerifier(ha, { holder, leaseMs: config["ha.lease"] }),
    log,
  });
  const served = fabric.serve(tm.subject, tm.app);
  tm.start();
  log.info({ tm: tm.tmId, slots: config["taskmanager.slots"] }, "TaskManager started");
  return {
    tmId: tm.tmId,
    async stop({ unregister = false } = {}) {
      await tm.stop();
      await served.stop();
      if (!unregister) return;
      // Best effort, one attempt: without a ResourceManager (or with a slow one) the heartbeat
      // timeout does it, and stopping should not wait a whole rpc.timeout for that.
      const rm = fabric.transportFor(subjects.resourceManager(clusterId));
      const { attemptTimeoutMs } = callDeadlinesFrom(config);
      await send(
        rm,
        { method: "DELETE", path: `/taskmanagers/${tm.tmId}`, headers: {} },
        { timeoutMs: attemptTimeoutMs, attemptTimeoutMs },
      ).then(
        (answer) => log.info({ tm: tm.tmId, status: answer.status }, "TaskManager unregistered"),
        (err: Error) =>
          log.info({ tm: tm.tmId, err: err.message }, "no ResourceManager to unregister from"),
      );
    },
  };
}

/**
 * The job processes of a TaskManager started as a role (`taskmanager.job-process: process`):
 * they run the flotilla executable this process runs, and job code connects as the `job` user.
 */
function jobProcessesFor({
  config,
  log,
  nc,
  ha,
  clusterId,
}: Pick<RoleContext, "config" | "log" | "nc" | "ha" | "clusterId">): JobProcesses {
  const entry = process.argv[1];
  if (!entry)
    throw new InvalidConfigError(
      "taskmanager.job-process",
      "a job process runs the flotilla executable, and this process has none (process.argv[1]): set taskmanager.job-process: none",
    );
  // No job user: job code gets no connection to the cluster's NATS (its own servers still
  // work), and asking for one fails with this error.
  let jobNats: JobNatsSettings | string;
  try {
    jobNats = jobNatsSettings(config);
  } catch (err) {
    jobNats = (err as Error).message;
  }
  const readPaths = config["taskmanager.job-process-read"];
  const writePaths = config["taskmanager.job-process-write"];
  refuseCredentialPaths(config, "taskmanager.job-process-read", readPaths);
  refuseCredentialPaths(config, "taskmanager.job-process-write", writePaths);
  return new JobProcesses({
    entry,
    readPaths,
    writePaths,
    clusterId,
    nc,
    artifacts: { get: (key: string) => ha.blobs.get(key) },
    snapshots: dispatcherStores(ha).snapshots,
    secretsDir: config["secrets.dir"],
    jobNats,
    memoryMb: config["taskmanager.job-process-memory-mb"],
    metricsIntervalMs: config["heartbeat.interval"],
    logLevel: config["log.level"],
    log,
  });
}
