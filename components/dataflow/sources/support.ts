/** Small helpers the sources share: option checks with messages that name the value, and waits. */
import { InvalidArgumentError } from "../../core/mod.ts";

/** How long a reader with nothing to emit waits before returning an empty batch. */
export const IDLE_MS = 20;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Keeps an unbounded reader that has nothing to read from spinning its task. */
export function idle(): Promise<void> {
  return sleep(IDLE_MS);
}

export function requireInteger(source: string, name: string, value: unknown, min: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(
      `${source}: ${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`,
    );
  }
}

/** The first restored position that is a number (sources with parallelism 1 have one). */
export function firstNumber(positions: unknown[]): number | undefined {
  return positions.find((p): p is number => typeof p === "number" && Number.isFinite(p));
}
