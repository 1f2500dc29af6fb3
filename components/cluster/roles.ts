/**
 * The role entrypoints (`flotilla start <role>`): each role is one process on NATS. `master`
 * runs the Dispatcher and the ResourceManager together (the standalone layout); every singleton
 * runs under leader election, so standbys wait and take over, fenced by their lease's token.
 */
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type Config, type Logger, newTaskManagerId } from "../core/mod.ts";
import { createDispatcher, dispatcherApp } from "../dispatcher/mod.ts";
import { type HaServices, natsHaServices } from "../ha/mod.ts";
import type { JobOutcome } from "../jobmanager/mod.ts";
import {
  createResourceManager,
  dockerDriver,
  processDriver,
  type ResourceDriver,
  staticDriver,
} from "../resourcemanager/mod.ts";
import { createBlock, type HttpServer, reply, serveHttp } from "../rpc/mod.ts";
import { createTaskManager } from "../taskmanager/mod.ts";
import { natsFabric } from "./fabric.ts";
import { runJobMode } from "./job_mode.ts";
import { startMiniCluster } from "./mini_cluster.ts";
import { dispatcherStores } from "./stores.ts";

export const ROLES = [
  "master",
  "dispatcher",
  "resourcemanager",
  "taskmanager",
  "jobmanager",
  "mini",
] as const;
export type Role = (typeof ROLES)[number];

export interface RunningRole {
  role: Role;
  /** The REST endpoint, for dispatcher and master. */
  http?: HttpServer;
  /** Job mode: resolves with the job's end. */
  outcome?: Promise<JobOutcome>;
  stop(): Promise<void>;
}

interface Context {
  config: Config;
  log: Logger;
  nc: NatsConnection;
  ha: HaServices;
  clusterId: string;
  holder: string;
}

/** The flotilla program this process runs (bin/flotilla.js or a bundle): driven TMs run it too. */
const BIN = /\.m?js$/.test(process.argv[1] ?? "")
  ? process.argv[1]!
  : fileURLToPath(new URL("../../bin/flotilla.js", import.meta.url));

/**
 * The RM's driver: `process` starts `flotilla start taskmanager` children on this machine,
 * `docker` starts TaskManager containers through the Docker Engine API.
 */
function driverFor(config: Config, log: Logger): ResourceDriver {
  const driver = config["resourcemanager.driver"];
  if (driver === "static") return staticDriver();
  const env = { FLOTILLA_NATS_URL: config["nats.url"], FLOTILLA_CLUSTER_ID: config["cluster.id"] };
  if (driver === "docker") {
    return dockerDriver({
      clusterId: config["cluster.id"],
      socketPath: config["docker.socket"],
      image: config["docker.taskmanager-image"],
      ...(config["docker.network"] ? { network: config["docker.network"] } : {}),
      ...(config["docker.max-taskmanagers"] > 0
        ? { maxTaskManagers: config["docker.max-taskmanagers"] }
        : {}),
      env: { ...env, FLOTILLA_LOG_LEVEL: config["log.level"] },
      // In a container the hostname is its id: `docker ps --filter label=...` says which RM.
      managedBy: process.env.FLOTILLA_INSTANCE_ID ?? hostname(),
      log,
    });
  }
  return processDriver({ command: [process.execPath, BIN, "start", "taskmanager"], env, log });
}

function startResourceManager(ctx: Context): () => Promise<void> {
  const { config, log, nc, clusterId } = ctx;
  const leadership = whileLeader(ctx, "rm", "ResourceManager", (token) => {
    const rm = createResourceManager({
      nc,
      clusterId,
      token,
      driver: driverFor(config, log),
      config: {
        heartbeatIntervalMs: config["heartbeat.interval"],
        heartbeatTimeoutMs: config["heartbeat.timeout"],
        idleTimeoutMs: config["resourcemanager.taskmanager-timeout"],
      },
      log,
    });
    void rm.start();
    return () => rm.stop();
  });
  return leadership.stop;
}

/**
 * Runs `lead(token)` while this process holds the role's lease, and the step-down it returns
 * when the lease is lost (or on stop, which resigns so a standby takes over at once).
 */
function whileLeader(
  { ha, holder, clusterId, config, log }: Context,
  role: "rm" | "dispatcher",
  what: string,
  lead: (token: number) => () => Promise<void> | void,
): { isLeader(): boolean; stop(): Promise<void> } {
  let stepDown: (() => Promise<void> | void) | undefined;
  const subject = `flotilla.${clusterId}.${role}`;
  const election = ha.election({ role, holder, subject, leaseMs: config["ha.lease"] });
  election.start({
    onElected(token) {
      log.info({ token }, `elected ${what} leader`);
      stepDown = lead(token);
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

async function startDispatcher(ctx: Context): Promise<{ http: HttpServer; stop(): Promise<void> }> {
  const { config, log, nc, ha, clusterId } = ctx;
  const fabric = natsFabric(nc, clusterId);
  const dispatcher = createDispatcher({
    clusterId,
    fabric,
    stores: dispatcherStores(ha),
    slotRequestTimeoutMs: config["slot.request.timeout"],
    log,
  });
  const app = dispatcherApp(dispatcher, {
    rmSubject: `flotilla.${clusterId}.rm`,
    transportFor: fabric.transportFor,
    config: {
      "cluster.id": clusterId,
      "heartbeat.interval": config["heartbeat.interval"],
      "heartbeat.timeout": config["heartbeat.timeout"],
    },
  });
  const leadership = whileLeader(ctx, "dispatcher", "Dispatcher", () => {
    const served = fabric.serve(`flotilla.${clusterId}.dispatcher`, app, { queue: "dispatcher" });
    void dispatcher
      .recover()
      .catch((err: Error) => log.error({ err: err.message }, "job recovery failed"));
    return () => served.stop();
  });
  // A standby answers REST with 503 (but /healthz): only the leader knows the running jobs.
  const gated = {
    fetch: (request: Request) =>
      leadership.isLeader() || new URL(request.url).pathname === "/healthz"
        ? app.fetch(request)
        : Response.json(
            {
              errors: [
                "this dispatcher is a standby: ask the leader (or retry, it takes over when the leader fails)",
              ],
              code: "UNAVAILABLE",
            },
            { status: 503 },
          ),
  };
  const http = await serveHttp(gated, {
    port: config["rest.port"],
    hostname: config["rest.address"],
  });
  log.info({ url: http.url }, "REST endpoint up");
  return {
    http,
    async stop() {
      await http.close();
      await dispatcher.stop();
      await leadership.stop();
    },
  };
}

function startTaskManager({ config, log, nc, ha, clusterId }: Context): () => Promise<void> {
  const fabric = natsFabric(nc, clusterId);
  const slotProfile = {
    cpu: config["taskmanager.cpu"],
    memoryMb: config["taskmanager.memory-mb"],
    extended: {},
  };
  // A TaskManager the process driver started has one slot of exactly the profile it was asked for.
  const env = process.env;
  const driven = env.FLOTILLA_TM_CPU !== undefined || env.FLOTILLA_TM_MEMORY_MB !== undefined;
  const slots = driven
    ? [
        {
          cpu: Number(env.FLOTILLA_TM_CPU ?? 0),
          memoryMb: Number(env.FLOTILLA_TM_MEMORY_MB ?? 0),
          extended: JSON.parse(env.FLOTILLA_TM_EXTENDED ?? "{}") as Record<string, number>,
        },
      ]
    : Array.from({ length: config["taskmanager.slots"] }, () => slotProfile);
  const tm = createTaskManager({
    clusterId,
    // The process driver names the TaskManagers it starts.
    ...(process.env.FLOTILLA_TM_ID ? { tmId: process.env.FLOTILLA_TM_ID } : {}),
    transportFor: fabric.transportFor,
    channelsFor: fabric.channelsFor,
    artifacts: { get: (key) => ha.blobs.get(key) },
    snapshots: dispatcherStores(ha).snapshots,
    slots,
    connectNats: fabric.connectNats!,
    heartbeatIntervalMs: config["heartbeat.interval"],
    heartbeatTimeoutMs: config["heartbeat.timeout"],
    log,
  });
  const served = fabric.serve(tm.subject, tm.app);
  tm.start();
  log.info({ tm: tm.tmId, slots: config["taskmanager.slots"] }, "TaskManager started");
  return async () => {
    await tm.stop();
    await served.stop();
  };
}

/**
 * `mini`: every block in this process (a MiniCluster, no NATS, memory stores), its REST API on
 * `rest.port`, so the CLI's job commands work against it like against a real cluster.
 */
async function startMini(config: Config, log: Logger): Promise<RunningRole> {
  const mini = await startMiniCluster({
    clusterId: config["cluster.id"],
    taskManagers: 1,
    slotsPerTaskManager: config["taskmanager.slots"],
    // Only jobs with NATS sources or sinks connect.
    connectNats: (servers?: string) =>
      connect({ servers: (servers ?? config["nats.url"]).split(",") }),
    log,
  });
  const http = await serveHttp(mini.rest, {
    port: config["rest.port"],
    hostname: config["rest.address"],
  });
  log.info({ url: http.url, slots: config["taskmanager.slots"] }, "MiniCluster REST endpoint up");
  return {
    role: "mini",
    http,
    async stop() {
      await http.close();
      await mini.stop();
    },
  };
}

export async function startRole(role: Role, config: Config, log: Logger): Promise<RunningRole> {
  if (role === "mini") return startMini(config, log.child({ role }));
  const clusterId = config["cluster.id"];
  const nc = await connect({
    servers: config["nats.url"].split(","),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    name: `flotilla-${role}`,
  });
  const ha = await natsHaServices({ nc, clusterId, log });
  const ctx: Context = {
    config,
    log: log.child({ role }),
    nc,
    ha,
    clusterId,
    // FLOTILLA_INSTANCE_ID names this process in leader leases (e.g. the container's hostname).
    holder: process.env.FLOTILLA_INSTANCE_ID ?? `${role}-${newTaskManagerId().slice(3)}`,
  };
  const stops: (() => Promise<void>)[] = [];
  let http: HttpServer | undefined;
  if (role === "resourcemanager" || role === "master") stops.push(startResourceManager(ctx));
  if (role === "dispatcher" || role === "master") {
    const d = await startDispatcher(ctx);
    http = d.http;
    stops.push(d.stop);
  }
  if (role === "taskmanager") stops.push(startTaskManager(ctx));
  if (!http && config["health.port"] > 0) {
    // Roles without the REST API answer a container HEALTHCHECK here.
    const health = await serveHttp(
      createBlock({ log: ctx.log }).get("/healthz", (c) =>
        reply(c, { ok: !nc.isClosed(), role, holder: ctx.holder }, nc.isClosed() ? 503 : 200),
      ),
      { port: config["health.port"], hostname: config["rest.address"] },
    );
    stops.push(() => health.close());
  }
  let outcome: Promise<JobOutcome> | undefined;
  if (role === "jobmanager") {
    stops.push(startResourceManager(ctx));
    const job = await runJobMode({
      config,
      log: ctx.log,
      ha,
      fabric: natsFabric(nc, clusterId),
      clusterId,
    });
    outcome = job.outcome;
    stops.push(async () => {
      await job.cancel();
    });
  }
  return {
    role,
    ...(http ? { http } : {}),
    ...(outcome ? { outcome } : {}),
    async stop() {
      for (const stop of stops.reverse()) await stop().catch(() => {});
      await nc.drain().catch(() => nc.close());
    },
  };
}
