/**
 * `flotilla start auto`: identical processes (the elastic layout) compete for the `master` lease.
 * The winner runs the master roles (Dispatcher and ResourceManager, each under its own election,
 * so fencing and job recovery work as in any other layout); the others run a TaskManager. When
 * the master dies a TaskManager instance wins the next election, stops its TaskManager (its
 * tasks are canceled, the ResourceManager is told it is gone) and becomes master; a master that
 * loses its lease is cut off at once (fencing.ts), steps down and runs a TaskManager again.
 *
 * One HTTP endpoint per process (`rest.port`, and /healthz on `health.port` too when set) lives
 * across the switches: /healthz always answers (with what the process acts as), the REST API
 * only while it is the master (503 otherwise).
 */
import { MASTER_LEASE, subjects } from "../core/mod.ts";
import type { FetchApp, HttpServer } from "../rpc/mod.ts";
import { serveHttp } from "../rpc/mod.ts";
import { serveHealth } from "./health_server.ts";
import {
  type DispatcherService,
  dispatcherService,
  type RoleContext,
  type RunningTaskManager,
  startResourceManager,
  startTaskManager,
} from "./role_blocks.ts";

/** What an `auto` process acts as; `starting` until the first election is decided. */
export type Acting = "starting" | "master" | "taskmanager" | "switching";

export interface AutoRole {
  /** The endpoint on `rest.port`: /healthz always, the REST API while master. */
  http: HttpServer;
  acting(): Acting;
  stop(): Promise<void>;
}

interface MasterTerm {
  service: DispatcherService;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startAuto(ctx: RoleContext): Promise<AutoRole> {
  const { config, ha, holder, clusterId, nc } = ctx;
  const log = ctx.log;
  const leaseMs = config["ha.lease"];
  const election = ha.election({
    role: MASTER_LEASE,
    holder,
    subject: subjects.dispatcher(clusterId),
    leaseMs,
  });
  let acting: Acting = "starting";
  let term: MasterTerm | undefined;
  let tm: RunningTaskManager | undefined;
  /** False until this process won the first election or saw someone else win it. */
  let decided = false;
  let stopped = false;
  let transitions: Promise<void> = Promise.resolve();

  /**
   * A Dispatcher and a ResourceManager, cut off the moment the master lease is lost (on top of
   * their own leases); stopping them suspends this term's JobManagers for the next master.
   */
  function startMasterTerm(): MasterTerm {
    let active = true;
    // Their leases are written under the master lease: a deposed master's are taken over at once.
    const fence = { who: holder, active: () => active && election.isLeader(), lease: MASTER_LEASE };
    const stopRm = startResourceManager(ctx, { fence });
    const service = dispatcherService(ctx, { fence });
    return {
      service,
      async stop() {
        active = false;
        let still = "the Dispatcher";
        const stopped = (async () => {
          await service.stop();
          still = "the ResourceManager";
          await stopRm();
        })();
        // Both are fenced by the lost lease already: acting on nothing, a stop that hangs (seen
        // once in a few runs after a `docker pause`, not yet explained) must not keep this
        // process from serving as a TaskManager. It goes on in the background, named in the log.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = await Promise.race([
          stopped.then(() => false),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(true), leaseMs * 2);
          }),
        ]);
        clearTimeout(timer);
        if (!late) return;
        log.warn(
          { waitedMs: leaseMs * 2, still },
          "the old master term is still stopping: going on without it",
        );
        stopped.then(
          () => log.info("the old master term stopped"),
          (err: Error) => log.warn({ err: err.message }, "the old master term's stop failed"),
        );
      },
    };
  }

  /** Makes the process act as the election says; one transition at a time, to the latest state. */
  async function apply(): Promise<void> {
    while (!stopped) {
      const want: Acting = election.isLeader() ? "master" : "taskmanager";
      if (want === acting || (want === "taskmanager" && !decided)) return;
      if (term || tm) {
        acting = "switching";
        if (term) {
          log.warn({ holder }, "no longer the master: stopping the Dispatcher and ResourceManager");
          const ending = term;
          term = undefined;
          await ending.stop();
        }
        if (tm) {
          const ending = tm;
          tm = undefined;
          if (want === "master") {
            // The TaskManager stops (tasks canceled, serving stopped, then unregistered: up to a
            // second when the old ResourceManager is gone) while the new Dispatcher and
            // ResourceManager wait out their elections, which usually take longer: the job is
            // back sooner. Should the new ResourceManager lead first (the old master resigned),
            // the unregistration reaches it and it forgets this TaskManager.
            log.info({ tm: ending.tmId }, "elected master: stopping this process's TaskManager");
            term = startMasterTerm();
            acting = "master";
            log.info({ holder }, "acting as master (Dispatcher + ResourceManager)");
            await ending.stop({ unregister: true });
          } else await ending.stop({ unregister: true });
        }
        continue; // the lease may have changed hands meanwhile
      }
      if (want === "master") {
        term = startMasterTerm();
        log.info({ holder }, "acting as master (Dispatcher + ResourceManager)");
      } else {
        tm = startTaskManager(ctx);
        log.info({ holder, tm: tm.tmId }, "acting as TaskManager");
      }
      acting = want;
    }
  }

  const settle = (): Promise<void> => {
    transitions = transitions.then(apply).catch((err: Error) => {
      log.error({ err: err.message }, "switching roles failed; trying again in a second");
      if (!stopped) setTimeout(() => void settle(), 1000).unref?.();
    });
    return transitions;
  };

  election.start({
    onElected(token) {
      log.info({ token }, "won the master election");
      decided = true;
      void settle();
    },
    onRevoked(reason) {
      log.warn({ reason }, "lost the master lease");
      void settle();
    },
  });
  // Wait for the first election before starting a TaskManager that a win would stop at once.
  void (async () => {
    const deadline = Date.now() + 2 * leaseMs;
    while (!decided && !stopped && Date.now() < deadline) {
      const leader = await election.leader().catch(() => undefined);
      if (leader && leader.holder !== holder) break;
      await sleep(100);
    }
    decided = true;
    await settle();
  })();

  /** What the process acts as right now: a lapsed lease counts as switching at once. */
  const actingNow = (): Acting =>
    acting === "master" && !election.isLeader() ? "switching" : acting;
  const health = () => ({
    ok: !nc.isClosed(),
    role: "auto",
    acting: actingNow(),
    holder,
    ...(tm ? { taskmanager: tm.tmId } : {}),
    ...(term ? { dispatcherLeader: term.service.isLeader() } : {}),
  });
  const front: FetchApp = {
    fetch(request: Request) {
      if (new URL(request.url).pathname === "/healthz") {
        const body = health();
        return Response.json(body, { status: body.ok ? 200 : 503 });
      }
      if (actingNow() === "master" && term) return term.service.app.fetch(request);
      return Response.json(
        {
          errors: [
            `this instance (${holder}) is ${actingNow() === "taskmanager" ? "a TaskManager" : "switching roles"}, not the master: ask the instance whose /healthz says "acting": "master", or reach the cluster over NATS (--cluster nats://host:4222)`,
          ],
          code: "UNAVAILABLE",
        },
        { status: 503 },
      );
    },
  };
  const http = await serveHttp(front, {
    port: config["rest.port"],
    hostname: config["rest.address"],
    ...(ctx.restTls ? { tls: ctx.restTls } : {}),
  });
  const healthPort = config["health.port"];
  const healthHttp =
    healthPort > 0 && healthPort !== http.port
      ? await serveHealth(ctx, healthPort, health)
      : undefined;
  log.info({ url: http.url, holder }, "auto: contending for master; REST answers while master");

  return {
    http,
    acting: actingNow,
    async stop() {
      stopped = true;
      await transitions;
      // The term first (its sub-leases resigned), then the master lease: the next master starts
      // without waiting for a lease to run out.
      await term?.stop();
      term = undefined;
      await election.stop({ resign: true });
      await tm?.stop({ unregister: true });
      tm = undefined;
      await healthHttp?.close();
      await http.close();
    },
  };
}
