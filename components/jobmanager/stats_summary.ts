/**
 * Flink's `StatsSummary` as its REST API reports one (`StatsSummaryDto`): min, max and average
 * over every value seen, percentiles over a bounded window of the latest ones (Flink keeps a
 * histogram window too), so a job that checkpoints for weeks keeps a fixed amount.
 */
import type { StatsSummary } from "../protocol/mod.ts";

/** Latest values the percentiles are taken over. */
export const STATS_WINDOW = 1000;

export const ZERO_SUMMARY: StatsSummary = Object.freeze({
  min: 0,
  max: 0,
  avg: 0,
  p50: 0,
  p90: 0,
  p95: 0,
  p99: 0,
  p999: 0,
});

export class StatsWindow {
  #min = Number.POSITIVE_INFINITY;
  #max = Number.NEGATIVE_INFINITY;
  #sum = 0;
  #count = 0;
  readonly #window: number[] = [];
  #next = 0;
  readonly #size: number;

  constructor(size = STATS_WINDOW) {
    this.#size = Math.max(1, size);
  }

  add(value: number): void {
    this.#min = Math.min(this.#min, value);
    this.#max = Math.max(this.#max, value);
    this.#sum += value;
    this.#count++;
    if (this.#window.length < this.#size) this.#window.push(value);
    else this.#window[this.#next] = value;
    this.#next = (this.#next + 1) % this.#size;
  }

  get count(): number {
    return this.#count;
  }

  summary(): StatsSummary {
    if (this.#count === 0) return ZERO_SUMMARY;
    return {
      ...percentiles(this.#window),
      min: this.#min,
      max: this.#max,
      // Flink's average is a long: the sum divided by the count, rounded down.
      avg: Math.floor(this.#sum / this.#count),
    };
  }
}

/** The summary of a handful of values (one vertex's subtasks in one checkpoint). */
export function summarize(values: readonly number[]): StatsSummary {
  const window = new StatsWindow(Math.max(1, values.length));
  for (const v of values) window.add(v);
  return window.summary();
}

/** Linear interpolation between the closest ranks (numpy's default). */
function percentiles(values: readonly number[]): Omit<StatsSummary, "min" | "max" | "avg"> {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number): number => {
    const h = (sorted.length - 1) * p;
    const low = Math.floor(h);
    const high = Math.min(low + 1, sorted.length - 1);
    return sorted[low]! + (h - low) * (sorted[high]! - sorted[low]!);
  };
  return { p50: at(0.5), p90: at(0.9), p95: at(0.95), p99: at(0.99), p999: at(0.999) };
}
