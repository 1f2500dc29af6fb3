/**
 * The embedded MiniCluster: a Dispatcher, a ResourceManager (static driver) and TaskManagers in
 * this process, on the in-process fabric and memory HA stores, speaking the very same protocols
 * as a cluster of processes over NATS. What `flotilla run` uses when no cluster is configured.
 */
import { compileConfig, type Logger, silentLogger, subjects } from "../core/mod.ts";
import {
  createDispatcher,
  type Dispatcher,
  type DispatcherOptions,
  dispatcherApp,
} from "../dispatcher/mod.ts";
import { memoryHaServices } from "../ha/mod.ts";
import { type JobManagerDeadlines, jobManagerDeadlinesFrom } from "../jobmanager/mod.ts";
import { type DispatcherApp, RM_FENCING_SCOPE } from "../protocol/mod.ts";
import { createResourceManager, staticDriver } from "../resourcemanager/mod.ts";
import { createClient, localTransport, type RpcClient } from "../rpc/mod.ts";
import { createTaskManager, type TaskManager } from "../taskmanager/mod.ts";
import { type Fabric, localFabric } from "./fabric.ts";
import { dispatcherStores } from "./stores.ts";

export interface MiniClusterOptions {
  /** @default 1 */
  taskManagers?: number;
  /** @default 4 */
  slotsPerTaskManager?: number;
  /** @default "mini" */
  clusterId?: string;
  /** For jobs whose sources or sinks use NATS. */
  connectNats?: Fabric["connectNats"];
  /** @default 1000 */
  heartbeatIntervalMs?: number;
  /** @default 300000 */
  slotRequestTimeoutMs?: number;
  /**
   * Deadlines of the blocks' calls (`rpc.timeout`, `rpc.attempt-timeout`) and of a canceled
   * task's last report (`task.cancellation.timeout`); a TaskManager that has not registered
   * within `rpc.timeout` fails the start. @default the config keys' defaults
   */
  deadlines?: JobManagerDeadlines;
  /** Deadline of one call of `client`, the REST API's (`client.timeout`). @default 30000 */
  clientTimeoutMs?: number;
  /** The Dispatcher's bounds and clock (`jobstore.*`, `blob.*`, ...). @default the keys' defaults */
  dispatcher?: Pick<
    DispatcherOptions,
    "jobStore" | "artifacts" | "collectMaxRecords" | "maxRunningJobs" | "clock"
  >;
  log?: Logger;
}

/**
 * The fencing token of the one ResourceManager, which holds no lease (nothing else contends in
 * this process): its TaskManagers take this token and no other.
 */
const RM_TOKEN = 1;

export interface MiniCluster {
  readonly fabric: Fabric;
  readonly rest: DispatcherApp;
  /** The Dispatcher itself, for what its REST API does not show (tests). */
  readonly dispatcher: Dispatcher;
  /** The REST API, typed, called in-process. */
  readonly client: RpcClient<DispatcherApp>;
  readonly taskManagers: TaskManager[];
  stop(): Promise<void>;
}

export async function startMiniCluster({
  taskManagers = 1,
  slotsPerTaskManager = 4,
  clusterId = "mini",
  connectNats,
  heartbeatIntervalMs = 1000,
  slotRequestTimeoutMs = 300_000,
  deadlines: given,
  clientTimeoutMs = 30_000,
  dispatcher: bounds = {},
  log = silentLogger,
}: MiniClusterOptions = {}): Promise<MiniCluster> {
  const deadlines = { ...jobManagerDeadlinesFrom(compileConfig({ env: {} })), ...given };
  const fabric = localFabric(connectNats ? { connectNats } : {});
  const ha = memoryHaServices({ log });
  const stores = dispatcherStores(ha);
  const heartbeatTimeoutMs = heartbeatIntervalMs * 5;
  const rm = createResourceManager({
    transportFor: fabric.transportFor,
    clusterId,
    token: RM_TOKEN,
    driver: staticDriver(),
    config: {
      heartbeatIntervalMs,
      heartbeatTimeoutMs,
      rpcTimeoutMs: deadlines.rpc.timeoutMs,
      rpcAttemptTimeoutMs: deadlines.rpc.attemptTimeoutMs,
    },
    log,
  });
  const rmServed = fabric.serve(rm.subject, rm.app);
  await rm.start();
  const tms = Array.from({ length: taskManagers }, () =>
    createTaskManager({
      clusterId,
      transportFor: fabric.transportFor,
      channelsFor: fabric.channelsFor,
      artifacts: stores.blobs as { get(key: string): Promise<Uint8Array | undefined> },
      snapshots: stores.snapshots,
      slots: Array.from({ length: slotsPerTaskManager }, () => ({
        cpu: 0,
        memoryMb: 0,
        extended: {},
      })),
      ...(fabric.connectNats ? { connectNats: fabric.connectNats } : {}),
      rpc: deadlines.rpc,
      heartbeatIntervalMs,
      heartbeatTimeoutMs,
      verifyFencingToken: async (scope, token) => scope === RM_FENCING_SCOPE && token === RM_TOKEN,
      log,
    }),
  );
  const tmServed = tms.map((tm) => fabric.serve(tm.subject, tm.app));
  for (const tm of tms) tm.start();
  const stopResources = async () => {
    await Promise.all(tms.map((tm) => tm.stop()));
    await Promise.all(tmServed.map((s) => s.stop()));
    await rm.stop();
    await rmServed.stop();
  };
  await registered(tms, deadlines.rpc.timeoutMs).catch(async (err: unknown) => {
    await stopResources();
    throw err;
  });
  // One term: no other Dispatcher ever ran these jobs.
  const dispatcher = createDispatcher({
    clusterId,
    fabric,
    stores,
    term: 1,
    deadlines,
    slotRequestTimeoutMs,
    ...bounds,
    log,
  });
  // What `GET /jobmanager/config` shows: the settings this MiniCluster runs with.
  const rest = dispatcherApp(dispatcher, {
    settings: {
      "cluster.id": clusterId,
      "heartbeat.interval": heartbeatIntervalMs,
      "heartbeat.timeout": heartbeatTimeoutMs,
      "slot.request.timeout": slotRequestTimeoutMs,
      "rpc.timeout": deadlines.rpc.timeoutMs,
      "rpc.attempt-timeout": deadlines.rpc.attemptTimeoutMs,
    },
  });
  const restServed = fabric.serve(subjects.dispatcher(clusterId), rest);
  return {
    fabric,
    rest,
    dispatcher,
    client: createClient<DispatcherApp>(localTransport(rest), { timeoutMs: clientTimeoutMs }),
    taskManagers: tms,
    async stop() {
      await dispatcher.suspend();
      await restServed.stop();
      await stopResources();
    },
  };
}

/** Resolves once every TaskManager registered at the ResourceManager: one call each, in this process. */
async function registered(tms: TaskManager[], timeoutMs: number): Promise<void> {
  await Promise.all(tms.map((tm) => tm.whenRegistered(timeoutMs)));
}
