/**
 * An endless event-time job for the REST watermark route: a slow sequence whose records carry
 * their sequence number as event time, watermarks after every advance, rebalanced into a map so
 * a second vertex receives them.
 */
import { defineJob, sinks, sources } from "flotilla";

export default defineJob({ name: "event-time", parallelism: 1 }, (env) =>
  env
    .source(sources.sequence({ keys: 1, ratePerSecond: 200 }))
    .assignTimestamps((r) => 1_000 + r.seq, { maxOutOfOrderMs: 0, watermarkIntervalMs: 0 })
    .rebalance()
    .map((r) => r.seq)
    .name("after watermarks")
    .sink(sinks.discard()),
);
