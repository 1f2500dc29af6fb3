/**
 * The arithmetic of Flink's metric query bodies: picking `get` ids out of a component's values,
 * aggregating one id across TaskManagers or subtasks (min, max, avg, sum, Flink's skew), and
 * per-second rates between the reports a caller saw.
 */
import { LruCache } from "../core/mod.ts";
import type {
  AggregatedMetricsResponseBody,
  Aggregation,
  MetricCollectionResponseBody,
} from "../protocol/mod.ts";

export type MetricValues = Readonly<Record<string, number>>;

/** Flink's number-as-string (integers without a decimal point, like Java's longs). */
function text(value: number): string {
  return Number.isInteger(value) ? value.toFixed(0) : String(value);
}

/** Without `get`: the ids there are. With it: each id asked that exists, with its value. */
export function collection(
  values: MetricValues,
  get?: readonly string[],
): MetricCollectionResponseBody {
  if (!get) return Object.keys(values).map((id) => ({ id }));
  return get.flatMap((id) => {
    const value = values[id];
    return value === undefined ? [] : [{ id, value: text(value) }];
  });
}

/**
 * Flink's skew: the mean absolute deviation as a percentage of the mean, at most 100 (0 when
 * the mean is 0).
 */
export function skew(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const avg = values.reduce((a, b) => a + b, 0) / values.length;
  if (avg === 0) return 0;
  const deviation = values.reduce((a, v) => a + Math.abs(avg - v), 0) / values.length;
  return Math.min((deviation / avg) * 100, 100);
}

const ALL: readonly Aggregation[] = ["min", "max", "avg", "sum", "skew"];

/** Without `get`: the ids any component has. With it: each id's aggregations over those that have it. */
export function aggregated(
  components: readonly MetricValues[],
  get?: readonly string[],
  agg: readonly Aggregation[] = ALL,
): AggregatedMetricsResponseBody {
  if (!get) {
    const ids = new Set<string>();
    for (const values of components) for (const id of Object.keys(values)) ids.add(id);
    return [...ids].map((id) => ({ id }));
  }
  const out: AggregatedMetricsResponseBody = [];
  for (const id of get) {
    const values = components.flatMap((c) => (c[id] === undefined ? [] : [c[id]]));
    if (values.length === 0) continue;
    const sum = values.reduce((a, b) => a + b, 0);
    const figures: Record<Aggregation, () => number> = {
      min: () => Math.min(...values),
      max: () => Math.max(...values),
      avg: () => sum / values.length,
      sum: () => sum,
      skew: () => skew(values),
    };
    const row: AggregatedMetricsResponseBody[number] = { id };
    for (const a of agg) row[a] = figures[a]();
    out.push(row);
  }
  return out;
}

/** Subtasks whose last report is remembered for rates (bounded like every cache). */
export const MAX_RATE_SAMPLES = 4096;

/**
 * Per-second rates of cumulative counters, over the time between the two latest different
 * reports seen for a key; the first time, none (Flink's meters also start at 0).
 */
export class RateSampler {
  readonly #previous = new LruCache<
    string,
    { at: number; counters: MetricValues; rates: Record<string, number> }
  >(MAX_RATE_SAMPLES);

  rates(
    key: string,
    counters: MetricValues,
    names: readonly string[],
    now: number,
  ): Record<string, number> {
    const before = this.#previous.get(key);
    if (before && names.every((n) => before.counters[n] === counters[n])) return before.rates;
    const rates: Record<string, number> = {};
    if (before && now > before.at)
      for (const n of names)
        rates[n] = (((counters[n] ?? 0) - (before.counters[n] ?? 0)) * 1000) / (now - before.at);
    this.#previous.set(key, { at: now, counters: { ...counters }, rates });
    return rates;
  }
}
