/**
 * Checks of the timing options a block compiles (heartbeats, deadlines, timeouts): each a positive
 * number of milliseconds, and a heartbeat timeout no shorter than its interval. A failure is an
 * `InvalidConfigError` naming the option and its value.
 */
import { InvalidConfigError } from "./errors.ts";

/** Throws for the first value that is not a positive, finite number of milliseconds. */
export function checkDurations(owner: string, values: Record<string, number>): void {
  for (const [key, value] of Object.entries(values)) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new InvalidConfigError(
        key,
        `${owner} option ${key} is ${String(value)}: expected a positive number of milliseconds`,
      );
    }
  }
}

/** A timeout shorter than the interval would lose every `target` between two heartbeats. */
export function checkHeartbeat(intervalMs: number, timeoutMs: number, target: string): void {
  if (timeoutMs < intervalMs) {
    throw new InvalidConfigError(
      "heartbeatTimeoutMs",
      `heartbeat timeout ${timeoutMs} ms is shorter than the heartbeat interval ${intervalMs} ms: every ${target} would be lost between two heartbeats`,
    );
  }
}
