/**
 * The static driver (standalone clusters): TaskManagers are started by someone else and register
 * on their own; the RM never starts or stops one.
 */
import { ErrorCode, FlotillaError } from "../../core/mod.ts";
import { describeProfile } from "../profile.ts";
import type { ResourceDriver } from "../types.ts";

export function staticDriver(): ResourceDriver {
  return {
    kind: "static",
    canStart: () => false,
    startTaskManager: (profile) =>
      Promise.reject(
        new FlotillaError(
          ErrorCode.NO_RESOURCES,
          `the static driver cannot start TaskManagers (asked for ${describeProfile(profile)}): start more TaskManagers, or use the process or docker driver`,
        ),
      ),
    stopTaskManager: () => Promise.resolve(false),
  };
}
