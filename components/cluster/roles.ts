/**
 * The role entrypoints (`flotilla start <role>`): each role is one process on NATS. `master`
 * runs the Dispatcher and the ResourceManager together (the standalone layout); every singleton
 * runs under leader election, so standbys wait and take over, fenced by their lease's token.
 * `auto` (the elastic layout) lets identical processes elect which of them is the master.
 */
import { hostname } from "node:os";
import { connect } from "@nats-io/transport-node";
import { type Config, type Logger, newTaskManagerId } from "../core/mod.ts";
import { configureJobRuntime } from "../dataflow/internal_mod.ts";
import { graphBuilderFrom } from "../dispatcher/mod.ts";
import { natsHaServices } from "../ha/mod.ts";
import { jobManagerDeadlinesFrom } from "../jobmanager/mod.ts";
import type { JobOutcome } from "../protocol/mod.ts";
import { type FetchApp, type HttpServer, serveHttp } from "../rpc/mod.ts";
import {
  jobNatsConnector,
  natsConnectOptions,
  restGuardFrom,
  restTlsFrom,
} from "../security/mod.ts";
import { startAuto } from "./auto_role.ts";
import { natsFabric } from "./fabric.ts";
import { serveHealth } from "./health_server.ts";
import { runJobMode } from "./job_mode.ts";
import { startMiniCluster } from "./mini_cluster.ts";
import {
  type RoleContext,
  startDispatcher,
  startResourceManager,
  startTaskManager,
} from "./role_blocks.ts";

export const ROLES = [
  "master",
  "auto",
  "dispatcher",
  "resourcemanager",
  "taskmanager",
  "jobmanager",
  "mini",
] as const;
export type Role = (typeof ROLES)[number];

export interface RunningRole {
  role: Role;
  /** The REST endpoint, for dispatcher, master and auto. */
  http?: HttpServer;
  /** Job mode: resolves with the job's end. */
  outcome?: Promise<JobOutcome>;
  stop(): Promise<void>;
}

/**
 * `mini`: every block in this process (a MiniCluster, no NATS, memory stores), its REST API on
 * `rest.port`, so the CLI's job commands work against it like against a real cluster.
 */
async function startMini(
  config: Config,
  log: Logger,
  guard: (app: FetchApp) => FetchApp,
): Promise<RunningRole> {
  const mini = await startMiniCluster({
    clusterId: config["cluster.id"],
    taskManagers: 1,
    slotsPerTaskManager: config["taskmanager.slots"],
    deadlines: jobManagerDeadlinesFrom(config),
    clientTimeoutMs: config["client.timeout"],
    // Only jobs with NATS sources or sinks connect, as the job user.
    connectNats: jobNatsConnector(config),
    log,
  });
  const tls = restTlsFrom(config);
  const http = await serveHttp(guard(mini.rest), {
    port: config["rest.port"],
    hostname: config["rest.address"],
    ...(tls ? { tls } : {}),
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
  configureJobRuntime(config);
  // Roles that serve the REST API check its tokens; read (or generated) once, before anything starts.
  const guardRest = ["mini", "master", "dispatcher", "auto"].includes(role)
    ? restGuardFrom(config, log.child({ role }))
    : (app: FetchApp) => app;
  if (role === "mini") return startMini(config, log.child({ role }), guardRest);
  const restTls = restTlsFrom(config);
  const clusterId = config["cluster.id"];
  const nc = await connect({
    ...natsConnectOptions(config),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    name: `flotilla-${role}`,
  });
  const ha = await natsHaServices({ nc, clusterId, log });
  const ctx: RoleContext = {
    config,
    log: log.child({ role }),
    nc,
    ha,
    clusterId,
    // Without cluster.instance-id: several auto processes may share a host, so its name says
    // where and the suffix which.
    holder:
      config["cluster.instance-id"] ||
      `${role === "auto" ? hostname() : role}-${newTaskManagerId().slice(3)}`,
    guardRest,
    buildGraph: graphBuilderFrom(config, log.child({ role })),
    ...(restTls ? { restTls } : {}),
  };
  if (role === "auto") {
    const auto = await startAuto(ctx);
    return {
      role,
      http: auto.http,
      async stop() {
        await auto.stop().catch(() => {});
        await nc.drain().catch(() => nc.close());
      },
    };
  }
  const stops: (() => Promise<void>)[] = [];
  let http: HttpServer | undefined;
  if (role === "resourcemanager" || role === "master") stops.push(startResourceManager(ctx));
  if (role === "dispatcher" || role === "master") {
    const d = await startDispatcher(ctx);
    http = d.http;
    stops.push(d.stop);
  }
  if (role === "taskmanager") {
    const tm = startTaskManager(ctx);
    stops.push(() => tm.stop());
  }
  if (config["health.port"] > 0 && config["health.port"] !== http?.port) {
    // A container HEALTHCHECK asks here: roles without the REST API, and REST over HTTPS.
    const health = await serveHealth(ctx, config["health.port"], () => ({
      ok: !nc.isClosed(),
      role,
      holder: ctx.holder,
    }));
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
      buildGraph: ctx.buildGraph,
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
