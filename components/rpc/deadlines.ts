/**
 * The deadlines of one call between blocks, and where they come from: the process's compiled
 * config (`rpc.timeout`, `rpc.attempt-timeout`), so no caller hard-codes milliseconds.
 */
import type { Config } from "../core/mod.ts";

export interface CallDeadlines {
  /** Deadline of the whole call, retries included (`rpc.timeout`). */
  timeoutMs: number;
  /** Deadline of one attempt of an idempotent call, retried within `timeoutMs` (`rpc.attempt-timeout`). */
  attemptTimeoutMs: number;
}

/** The call deadlines `config` sets; give them to `createClient` / `send` as they are. */
export function callDeadlinesFrom(
  config: Pick<Config, "rpc.timeout" | "rpc.attempt-timeout">,
): CallDeadlines {
  return { timeoutMs: config["rpc.timeout"], attemptTimeoutMs: config["rpc.attempt-timeout"] };
}
