/**
 * The error of a driver asked for one TaskManager more than its cap (`<driver>.max-taskmanagers`):
 * a bound the RM also sees through `canStart`, enforced again where TaskManagers are started.
 */
import { ErrorCode, FlotillaError } from "../../core/mod.ts";

export function tooManyTaskManagers(
  driver: "process" | "docker",
  running: number,
  max: number,
): FlotillaError {
  return new FlotillaError(
    ErrorCode.NO_RESOURCES,
    `the ${driver} driver runs ${running} TaskManagers, its most (${driver}.max-taskmanagers ${max}): none more until one stops`,
  );
}
