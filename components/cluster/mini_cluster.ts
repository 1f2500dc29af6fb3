/**
 * The embedded MiniCluster: a Dispatcher, a ResourceManager (static driver) and TaskManagers in
 * this process, on the in-process fabric and memory HA stores, speaking the very same protocols
 * as a cluster of processes over NATS. What `flotilla run` uses when no cluster is configured.
 */
import { type Logger, silentLogger, subjects } from "../core/mod.ts";
import { createDispatcher, type DispatcherApp, dispatcherApp } from "../dispatcher/mod.ts";
import { memoryHaServices } from "../ha/mod.ts";
import { createResourceManager, staticDriver } from "../resourcemanager/mod.ts";
import { type CallDeadlines, createClient, localTransport, type RpcClient } from "../rpc/mod.ts";
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
  /** Deadlines of the ResourceManager's calls (`rpc.timeout`, `rpc.attempt-timeout`). @default 5000, 1000 */
  deadlines?: CallDeadlines;
  /** Deadline of one call of `client`, the REST API's (`client.timeout`). @default 30000 */
  clientTimeoutMs?: number;
  log?: Logger;
}

export interface MiniCluster {
  readonly fabric: Fabric;
  readonly rest: DispatcherApp;
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
  deadlines,
  clientTimeoutMs = 30_000,
  log = silentLogger,
}: MiniClusterOptions = {}): Promise<MiniCluster> {
  const fabric = localFabric(connectNats ? { connectNats } : {});
  const ha = memoryHaServices({ log });
  const stores = dispatcherStores(ha);
  const heartbeatTimeoutMs = heartbeatIntervalMs * 5;
  const rm = createResourceManager({
    transportFor: fabric.transportFor,
    clusterId,
    token: 1,
    driver: staticDriver(),
    config: {
      heartbeatIntervalMs,
      heartbeatTimeoutMs,
      ...(deadlines
        ? { rpcTimeoutMs: deadlines.timeoutMs, rpcAttemptTimeoutMs: deadlines.attemptTimeoutMs }
        : {}),
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
      heartbeatIntervalMs,
      heartbeatTimeoutMs,
      log,
    }),
  );
  const tmServed = tms.map((tm) => fabric.serve(tm.subject, tm.app));
  for (const tm of tms) tm.start();
  while (!tms.every((tm) => tm.isRegistered())) await new Promise((r) => setTimeout(r, 2));
  const dispatcher = createDispatcher({ clusterId, fabric, stores, slotRequestTimeoutMs, log });
  const rest = dispatcherApp(dispatcher, {
    rmSubject: rm.subject,
    transportFor: fabric.transportFor,
  });
  const restServed = fabric.serve(subjects.dispatcher(clusterId), rest);
  return {
    fabric,
    rest,
    client: createClient<DispatcherApp>(localTransport(rest), { timeoutMs: clientTimeoutMs }),
    taskManagers: tms,
    async stop() {
      await dispatcher.suspend();
      await restServed.stop();
      await Promise.all(tms.map((tm) => tm.stop()));
      await Promise.all(tmServed.map((s) => s.stop()));
      await rm.stop();
      await rmServed.stop();
    },
  };
}
