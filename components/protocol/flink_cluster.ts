/**
 * Flink's REST bodies about the cluster as a whole (`/config`, `/overview`, `/taskmanagers`,
 * `/jobmanager/config`), in Flink's JSON field names: a TS type per body plus the zod schema
 * tests validate the Dispatcher's answers against. Field names and types follow Flink's
 * `rest_v1_dispatcher.yml`; where flotilla has no value, the neutral value is named in a comment.
 */
import { z } from "zod";

const int = z.number().int();
const long = z.number().int();

// ---- GET /config: DashboardConfiguration --------------------------------------------------------

/** What the web dashboard may offer; flotilla's REST guard decides submit, cancel is always on. */
export interface DashboardFeatures {
  "web-submit": boolean;
  "web-cancel": boolean;
  /** Flotilla rescales through PUT /jobs/:jid/resource-requirements (adaptive scheduler). */
  "web-rescale": boolean;
  /** Flotilla has no HistoryServer: always false. */
  "web-history": boolean;
}

/**
 * `GET /config` (Flink's DashboardConfiguration). `flink-version` carries flotilla's own package
 * version (flotilla is not Flink; tools read it as an opaque string), `flink-revision` the
 * build's revision or "unknown".
 */
export interface DashboardConfiguration {
  "refresh-interval": number;
  "timezone-name": string;
  /** Milliseconds east of UTC, as Flink sends it. */
  "timezone-offset": number;
  "flink-version": string;
  "flink-revision": string;
  features: DashboardFeatures;
}

export const dashboardConfigurationSchema = z.object({
  "refresh-interval": long,
  "timezone-name": z.string(),
  "timezone-offset": int,
  "flink-version": z.string(),
  "flink-revision": z.string(),
  features: z.object({
    "web-submit": z.boolean(),
    "web-cancel": z.boolean(),
    "web-rescale": z.boolean(),
    "web-history": z.boolean(),
  }),
});

// ---- GET /overview: ClusterOverviewWithVersion --------------------------------------------------

/** What flotilla adds to Flink's bodies goes under one `flotilla` key, so it is never mistaken for Flink's. */
export interface ClusterOverviewExtras {
  /** Whether the ResourceManager answered this call (the slot counts are 0 when not). */
  resourceManager: "up" | "unreachable";
}

/**
 * `GET /overview` (Flink's ClusterOverviewWithVersion). `jobs-running` counts every job not
 * ended (created, running, restarting, failing, cancelling, suspended), as Flink does.
 */
export interface ClusterOverviewWithVersion {
  taskmanagers: number;
  "slots-total": number;
  "slots-available": number;
  "jobs-running": number;
  "jobs-finished": number;
  /** Flink spells it with two Ls here. */
  "jobs-cancelled": number;
  "jobs-failed": number;
  "flink-version": string;
  "flink-commit": string;
  flotilla: ClusterOverviewExtras;
}

export const clusterOverviewWithVersionSchema = z.object({
  taskmanagers: int,
  "slots-total": int,
  "slots-available": int,
  "jobs-running": int,
  "jobs-finished": int,
  "jobs-cancelled": int,
  "jobs-failed": int,
  "flink-version": z.string(),
  "flink-commit": z.string(),
  flotilla: z.object({ resourceManager: z.enum(["up", "unreachable"]) }),
});

// ---- GET /taskmanagers, /taskmanagers/:tmid -----------------------------------------------------

/**
 * Flink's ResourceProfileInfo, memory in MiB. flotilla's profile has cpu, one memory amount and
 * extended resources: `cpuCores` is its cpu, `taskHeapMemory` its memory (MiB), the other
 * memory kinds 0 (flotilla does not split memory), `extendedResources` its extended ones.
 */
export interface ResourceProfileInfo {
  cpuCores: number;
  taskHeapMemory: number;
  taskOffHeapMemory: number;
  managedMemory: number;
  networkMemory: number;
  extendedResources: Record<string, number>;
}

export const resourceProfileInfoSchema = z.object({
  cpuCores: z.number(),
  taskHeapMemory: int,
  taskOffHeapMemory: int,
  managedMemory: int,
  networkMemory: int,
  extendedResources: z.record(z.string(), z.number()),
});

/**
 * Flink's HardwareDescription. `cpuCores` is the TaskManager's cpu (its profile, rounded up);
 * `physicalMemory` and `freeMemory` are -1 (Flink's value for "not known": TaskManagers do not
 * report their machine), `managedMemory` 0 (flotilla has no managed memory), all bytes.
 */
export interface HardwareDescription {
  cpuCores: number;
  physicalMemory: number;
  freeMemory: number;
  managedMemory: number;
}

export const hardwareDescriptionSchema = z.object({
  cpuCores: int,
  physicalMemory: long,
  freeMemory: long,
  managedMemory: long,
});

/**
 * Flink's TaskExecutorMemoryConfiguration, in bytes. flotilla has one memory amount per
 * TaskManager: it is `taskHeap`, `totalFlinkMemory` and `totalProcessMemory`; every other kind
 * (framework heap and off-heap, task off-heap, network, managed, metaspace, overhead) is 0.
 */
export interface TaskExecutorMemoryConfiguration {
  frameworkHeap: number;
  taskHeap: number;
  frameworkOffHeap: number;
  taskOffHeap: number;
  networkMemory: number;
  managedMemory: number;
  jvmMetaspace: number;
  jvmOverhead: number;
  totalFlinkMemory: number;
  totalProcessMemory: number;
}

export const taskExecutorMemoryConfigurationSchema = z.object({
  frameworkHeap: long,
  taskHeap: long,
  frameworkOffHeap: long,
  taskOffHeap: long,
  networkMemory: long,
  managedMemory: long,
  jvmMetaspace: long,
  jvmOverhead: long,
  totalFlinkMemory: long,
  totalProcessMemory: long,
});

/**
 * One entry of `GET /taskmanagers` (Flink's TaskManagerInfo). `id` is flotilla's TaskManager id
 * (not 32 hex: Flink's ResourceID is any string too), `path` its NATS subject, `dataPort` and
 * `jmxPort` -1 (no Netty data port, no JMX). `timeSinceLastHeartbeat` is, as in Flink despite
 * its name, the epoch ms of the last heartbeat the ResourceManager had from it.
 */
export interface FlinkTaskManagerInfo {
  id: string;
  path: string;
  dataPort: number;
  jmxPort: number;
  timeSinceLastHeartbeat: number;
  slotsNumber: number;
  freeSlots: number;
  totalResource: ResourceProfileInfo;
  freeResource: ResourceProfileInfo;
  hardware: HardwareDescription;
  memoryConfiguration: TaskExecutorMemoryConfiguration;
}

const taskManagerInfoFields = {
  id: z.string(),
  path: z.string(),
  dataPort: int,
  jmxPort: int,
  timeSinceLastHeartbeat: long,
  slotsNumber: int,
  freeSlots: int,
  totalResource: resourceProfileInfoSchema,
  freeResource: resourceProfileInfoSchema,
  hardware: hardwareDescriptionSchema,
  memoryConfiguration: taskExecutorMemoryConfigurationSchema,
};
export const flinkTaskManagerInfoSchema = z.object(taskManagerInfoFields);

/** `GET /taskmanagers` (Flink's TaskManagersInfo). */
export interface FlinkTaskManagersInfo {
  taskmanagers: FlinkTaskManagerInfo[];
}
export const flinkTaskManagersInfoSchema = z.object({
  taskmanagers: z.array(flinkTaskManagerInfoSchema),
});

/** A slot in use on a TaskManager (Flink's SlotInfo). */
export interface FlinkSlotInfo {
  jobId: string;
  resource: ResourceProfileInfo;
}

/**
 * Flink's TaskManagerMetricsInfo (JVM memory, Netty buffers, GC). A flotilla TaskManager is a
 * Node process with none of these pools: every number is 0 and `garbageCollectors` empty. Its
 * process numbers (heap, RSS, event-loop lag) are on its Prometheus `/metrics`.
 */
export interface TaskManagerMetricsInfo {
  heapUsed: number;
  heapCommitted: number;
  heapMax: number;
  nonHeapUsed: number;
  nonHeapCommitted: number;
  nonHeapMax: number;
  directCount: number;
  directUsed: number;
  directMax: number;
  mappedCount: number;
  mappedUsed: number;
  mappedMax: number;
  memorySegmentsAvailable: number;
  memorySegmentsTotal: number;
  nettyShuffleMemorySegmentsAvailable: number;
  nettyShuffleMemorySegmentsUsed: number;
  nettyShuffleMemorySegmentsTotal: number;
  nettyShuffleMemoryAvailable: number;
  nettyShuffleMemoryUsed: number;
  nettyShuffleMemoryTotal: number;
  garbageCollectors: { name: string; count: number; time: number }[];
}

const TASK_MANAGER_METRIC_NAMES = [
  "heapUsed",
  "heapCommitted",
  "heapMax",
  "nonHeapUsed",
  "nonHeapCommitted",
  "nonHeapMax",
  "directCount",
  "directUsed",
  "directMax",
  "mappedCount",
  "mappedUsed",
  "mappedMax",
  "memorySegmentsAvailable",
  "memorySegmentsTotal",
  "nettyShuffleMemorySegmentsAvailable",
  "nettyShuffleMemorySegmentsUsed",
  "nettyShuffleMemorySegmentsTotal",
  "nettyShuffleMemoryAvailable",
  "nettyShuffleMemoryUsed",
  "nettyShuffleMemoryTotal",
] as const satisfies readonly (keyof TaskManagerMetricsInfo)[];

/** The neutral TaskManagerMetricsInfo flotilla sends (see the type's comment). */
export const NEUTRAL_TASK_MANAGER_METRICS: TaskManagerMetricsInfo = {
  ...(Object.fromEntries(TASK_MANAGER_METRIC_NAMES.map((name) => [name, 0])) as Omit<
    TaskManagerMetricsInfo,
    "garbageCollectors"
  >),
  garbageCollectors: [],
};

export const taskManagerMetricsInfoSchema = z.object({
  ...Object.fromEntries(TASK_MANAGER_METRIC_NAMES.map((name) => [name, long])),
  garbageCollectors: z.array(z.object({ name: z.string(), count: long, time: long })),
});

/** `GET /taskmanagers/:tmid` (Flink's TaskManagerDetailsInfo): TaskManagerInfo and more. */
export interface FlinkTaskManagerDetailsInfo extends FlinkTaskManagerInfo {
  allocatedSlots: FlinkSlotInfo[];
  metrics: TaskManagerMetricsInfo;
}

export const flinkTaskManagerDetailsInfoSchema = z.object({
  ...taskManagerInfoFields,
  allocatedSlots: z.array(z.object({ jobId: z.string(), resource: resourceProfileInfoSchema })),
  metrics: taskManagerMetricsInfoSchema,
});

// ---- GET /jobmanager/config: ClusterConfigurationInfo -------------------------------------------

/** One setting of `GET /jobmanager/config`: every value a string, as Flink sends it. */
export interface ClusterConfigurationInfoEntry {
  key: string;
  value: string;
}

/** `GET /jobmanager/config`: the cluster's settings (never a secret, a token or a password). */
export type ClusterConfigurationInfo = ClusterConfigurationInfoEntry[];

export const clusterConfigurationInfoSchema = z.array(
  z.object({ key: z.string(), value: z.string() }),
);
