/**
 * The ResourceManager's timing options in two stages: `ResourceManagerConfig` (what a caller
 * passes, every field defaulted) -> `compileResourceManagerConfig()` (validated once).
 */
import { type Config, checkDurations, checkHeartbeat } from "../core/mod.ts";
import { callDeadlinesFrom } from "../rpc/mod.ts";

export interface ResourceManagerConfig {
  /** How often the RM pings each TaskManager (`heartbeat.interval`). @default 1000 */
  heartbeatIntervalMs?: number;
  /** Silence after which a TaskManager is lost (`heartbeat.timeout`). @default 5000 */
  heartbeatTimeoutMs?: number;
  /**
   * How long a TaskManager with every slot free is kept before the driver is asked to stop it
   * (Flink's `resourcemanager.taskmanager-timeout`). @default 30000
   */
  idleTimeoutMs?: number;
  /** How long a TaskManager asked of the driver may take to register. @default 300000 */
  pendingTaskManagerTimeoutMs?: number;
  /** Deadline of one call to a TaskManager or JobManager (`rpc.timeout`). @default 5000 */
  rpcTimeoutMs?: number;
  /** Deadline of one attempt of an idempotent call (`rpc.attempt-timeout`). @default 1000 */
  rpcAttemptTimeoutMs?: number;
  /**
   * Most slots registered at once (Flink's `slotmanager.number-of-slots.max`): a registration
   * past it is refused, so a flood of made-up TaskManagers cannot grow the RM. @default 4096
   */
  maxSlots?: number;
}

export type CompiledResourceManagerConfig = Readonly<Required<ResourceManagerConfig>>;

export function compileResourceManagerConfig({
  heartbeatIntervalMs = 1000,
  heartbeatTimeoutMs = 5000,
  idleTimeoutMs = 30_000,
  pendingTaskManagerTimeoutMs = 300_000,
  rpcTimeoutMs = 5000,
  rpcAttemptTimeoutMs = 1000,
  maxSlots = 4096,
}: ResourceManagerConfig = {}): CompiledResourceManagerConfig {
  const compiled = {
    maxSlots,
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    idleTimeoutMs,
    pendingTaskManagerTimeoutMs,
    rpcTimeoutMs,
    rpcAttemptTimeoutMs,
  };
  const { maxSlots: _, ...durations } = compiled;
  checkDurations("ResourceManager", durations);
  checkHeartbeat(heartbeatIntervalMs, heartbeatTimeoutMs, "TaskManager");
  return Object.freeze(compiled);
}

/** The RM options the process configuration sets (all but `pendingTaskManagerTimeoutMs`). */
export function resourceManagerConfigFrom(
  config: Config,
  overrides: ResourceManagerConfig = {},
): CompiledResourceManagerConfig {
  const deadlines = callDeadlinesFrom(config);
  return compileResourceManagerConfig({
    heartbeatIntervalMs: config["heartbeat.interval"],
    heartbeatTimeoutMs: config["heartbeat.timeout"],
    idleTimeoutMs: config["resourcemanager.taskmanager-timeout"],
    rpcTimeoutMs: deadlines.timeoutMs,
    rpcAttemptTimeoutMs: deadlines.attemptTimeoutMs,
    maxSlots: config["slotmanager.number-of-slots.max"],
    ...overrides,
  });
}
