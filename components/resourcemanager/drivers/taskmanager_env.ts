/**
 * What a driver tells a TaskManager it starts, as the config keys the TaskManager's own
 * `compileConfig` reads: its id and one slot of exactly the profile the ResourceManager asked for.
 */
import { configEnv, type TaskManagerId } from "../../core/mod.ts";
import type { ResourceProfile } from "../types.ts";

export function taskManagerEnv(tmId: TaskManagerId, p: ResourceProfile): Record<string, string> {
  return configEnv({
    "taskmanager.id": tmId,
    "taskmanager.slots": 1,
    "taskmanager.cpu": p.cpu,
    "taskmanager.memory-mb": p.memoryMb,
    // Always set, even empty: a child that inherits its parent's environment must not keep its value.
    "taskmanager.extended-resources": Object.entries(p.extended)
      .map(([name, amount]) => `${name}=${amount}`)
      .join(","),
  });
}

/** A container's `Env`: `env` and the TaskManager's own settings, as `NAME=value` lines. */
export function containerEnv(tmId: TaskManagerId, p: ResourceProfile, env: Record<string, string>) {
  const vars = { ...env, ...taskManagerEnv(tmId, p) };
  return Object.entries(vars).map(([k, v]) => `${k}=${v}`);
}
