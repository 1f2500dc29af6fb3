/**
 * The one poll helper of the test suite, for states no event announces (a process's port, a
 * container's status, a REST view): asks `check` until it answers, or fails naming what never
 * happened and the last answer or error seen. Prefer awaiting the event where there is one.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface UntilOptions {
  /** How long to keep asking before giving up. @default 10000 */
  timeoutMs?: number;
  /** Pause between two asks. @default 20 */
  intervalMs?: number;
}

/**
 * Resolves with the first answer of `check` that is neither `undefined` nor `false` (so a
 * boolean check and a probe that returns what it found both work). A check that throws counts
 * as "not yet"; its error is quoted if the deadline passes.
 */
export async function until<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  { timeoutMs = 10_000, intervalMs = 20 }: UntilOptions = {},
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: { value: unknown } | { error: unknown } = { value: undefined };
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (performance.now() >= deadline)
      throw new Error(`${what} never happened within ${timeoutMs} ms; ${describe(last)}`);
    await sleep(intervalMs);
  }
}

function describe(last: { value: unknown } | { error: unknown }): string {
  if ("error" in last) {
    const error = last.error;
    return `last error: ${error instanceof Error ? error.message : String(error)}`;
  }
  let shown: string;
  try {
    shown = JSON.stringify(last.value) ?? String(last.value);
  } catch {
    shown = String(last.value);
  }
  return `last seen: ${shown.length > 500 ? `${shown.slice(0, 500)}...` : shown}`;
}
