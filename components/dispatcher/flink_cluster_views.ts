/**
 * The cluster as Flink's REST bodies (components/protocol flink_cluster.ts): the dashboard's
 * configuration, the overview, the TaskManagers from the ResourceManager's view, and the
 * cluster's settings with its secrets left out. Pure; the neutral values are named in the types.
 */
import { isJobEnd, type JobState } from "../core/mod.ts";
import {
  type ClusterConfigurationInfo,
  type ClusterOverviewWithVersion,
  type DashboardConfiguration,
  type FlinkTaskManagerDetailsInfo,
  type FlinkTaskManagerInfo,
  NEUTRAL_TASK_MANAGER_METRICS,
  type ResourceOverview,
  type ResourceProfile,
  type ResourceProfileInfo,
  type TaskManagerInfo,
} from "../protocol/mod.ts";

const MIB = 1024 * 1024;

/** What the Dispatcher says of itself in `/config` and `/overview`. */
export interface ClusterIdentity {
  /** flotilla's package version (sent as `flink-version`). */
  version: string;
  /** The build's revision; "unknown" when not known. @default "unknown" */
  revision?: string;
  /** Whether REST submission is on (`web.submit.enable`). @default true */
  submit?: boolean;
  /** How often the dashboard refreshes, ms (`web.refresh-interval`). @default 3000 */
  refreshIntervalMs?: number;
}

export function dashboardConfiguration(
  { version, revision = "unknown", submit = true, refreshIntervalMs = 3000 }: ClusterIdentity,
  now: Date = new Date(),
): DashboardConfiguration {
  return {
    "refresh-interval": refreshIntervalMs,
    "timezone-name": Intl.DateTimeFormat().resolvedOptions().timeZone,
    // getTimezoneOffset is minutes west of UTC; Flink sends ms east.
    "timezone-offset": -now.getTimezoneOffset() * 60_000,
    "flink-version": version,
    "flink-revision": revision,
    features: {
      "web-submit": submit,
      "web-cancel": true,
      "web-rescale": true,
      "web-history": false,
    },
  };
}

export function clusterOverview(
  identity: ClusterIdentity,
  counts: Readonly<Record<JobState, number>>,
  resources: ResourceOverview | undefined,
): ClusterOverviewWithVersion {
  let running = 0;
  for (const [state, n] of Object.entries(counts) as [JobState, number][])
    if (!isJobEnd(state)) running += n;
  return {
    taskmanagers: resources?.taskmanagers ?? 0,
    "slots-total": resources?.slotsTotal ?? 0,
    "slots-available": resources?.slotsFree ?? 0,
    "jobs-running": running,
    "jobs-finished": counts.FINISHED,
    "jobs-cancelled": counts.CANCELED,
    "jobs-failed": counts.FAILED,
    "flink-version": identity.version,
    "flink-commit": identity.revision ?? "unknown",
    flotilla: { resourceManager: resources ? "up" : "unreachable" },
  };
}

function profileInfo(profile: ResourceProfile): ResourceProfileInfo {
  return {
    cpuCores: profile.cpu,
    taskHeapMemory: Math.round(profile.memoryMb),
    taskOffHeapMemory: 0,
    managedMemory: 0,
    networkMemory: 0,
    extendedResources: { ...profile.extended },
  };
}

/** A TaskManager as Flink's TaskManagerInfo. */
export function taskManagerInfo(tm: TaskManagerInfo): FlinkTaskManagerInfo {
  const memoryBytes = Math.round(tm.totalResources.memoryMb * MIB);
  const free = tm.slots.filter((s) => s.state === "free" && !s.pending).length;
  return {
    id: tm.tmId,
    path: tm.subject,
    dataPort: -1,
    jmxPort: -1,
    // As Flink, despite the name: when the last heartbeat was (its registration before the first).
    timeSinceLastHeartbeat: tm.lastHeartbeat ?? tm.registeredAt,
    slotsNumber: tm.slots.length,
    freeSlots: free,
    totalResource: profileInfo(tm.totalResources),
    freeResource: profileInfo(tm.freeResources),
    hardware: {
      cpuCores: Math.ceil(tm.totalResources.cpu),
      physicalMemory: -1,
      freeMemory: -1,
      managedMemory: 0,
    },
    memoryConfiguration: {
      frameworkHeap: 0,
      taskHeap: memoryBytes,
      frameworkOffHeap: 0,
      taskOffHeap: 0,
      networkMemory: 0,
      managedMemory: 0,
      jvmMetaspace: 0,
      jvmOverhead: 0,
      totalFlinkMemory: memoryBytes,
      totalProcessMemory: memoryBytes,
    },
  };
}

export function taskManagerDetailsInfo(tm: TaskManagerInfo): FlinkTaskManagerDetailsInfo {
  return {
    ...taskManagerInfo(tm),
    allocatedSlots: tm.slots
      .filter((s) => s.jobId !== undefined)
      .map((s) => ({ jobId: s.jobId as string, resource: profileInfo(s.profile) })),
    metrics: NEUTRAL_TASK_MANAGER_METRICS,
  };
}

/** Keys whose values are never shown, whatever the cluster's config holds. */
const SECRET_KEY = /(password|secret|token|credential|key-file|keyfile|private|seed|nkey)/i;

/** The cluster's settings as Flink's ClusterConfigurationInfo, sorted, secrets left out. */
export function clusterConfigurationInfo(
  settings: Readonly<Record<string, unknown>>,
): ClusterConfigurationInfo {
  return Object.entries(settings)
    .filter(([key, value]) => value !== undefined && !SECRET_KEY.test(key))
    .map(([key, value]) => ({
      key,
      value: typeof value === "string" ? value : JSON.stringify(value),
    }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
