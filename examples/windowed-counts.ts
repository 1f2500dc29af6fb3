/**
 * Event-time windows with out-of-order and late data: sensor readings carry their own timestamps,
 * watermarks trail the newest by 1 s, and each sensor's readings are counted per 5 s tumbling
 * window. A reading that arrives after its window was closed is late: dropped and counted
 * (`lateRecordsDropped`), not silently merged into the wrong window.
 */
import { defineJob, sinks, sources, windows } from "flotilla";

export interface Reading {
  sensor: string;
  /** Event time, epoch ms. */
  at: number;
  celsius: number;
}

const t0 = Date.UTC(2026, 0, 1);
/** Arrival order: mostly in time order, some readings a little behind, one far too late. */
export const readings: Reading[] = [
  { sensor: "a", at: t0 + 1000, celsius: 20 },
  { sensor: "b", at: t0 + 1500, celsius: 18 },
  { sensor: "a", at: t0 + 4200, celsius: 21 },
  { sensor: "a", at: t0 + 3900, celsius: 21 }, // out of order, within the 1 s bound: on time
  { sensor: "b", at: t0 + 6100, celsius: 19 },
  { sensor: "a", at: t0 + 7000, celsius: 22 },
  { sensor: "b", at: t0 + 11_000, celsius: 19 }, // watermark -> t0 + 9999: window [0, 5 s) fires
  { sensor: "a", at: t0 + 2000, celsius: 20 }, // its window already fired: late, dropped
  { sensor: "a", at: t0 + 10_500, celsius: 23 },
];

export default defineJob({ name: "windowed-counts", parallelism: 2 }, (env) =>
  env
    .source(sources.collection(readings))
    // One watermark generator, chained to the source, emitting on every advance (interval 0),
    // so which reading is late does not depend on timing or on how records were spread.
    .assignTimestamps((r) => r.at, { maxOutOfOrderMs: 1000, watermarkIntervalMs: 0 })
    .setParallelism(1)
    .keyBy((r) => r.sensor)
    .window(windows.tumbling({ size: 5000 }))
    .count()
    .map((w) => ({ sensor: w.key, from: w.start - t0, to: w.end - t0, readings: w.value }))
    .sink(sinks.collect()),
);
