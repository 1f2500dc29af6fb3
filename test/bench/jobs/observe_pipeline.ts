/**
 * The observe benchmark's data-plane job: a sequence through a hash exchange (keyBy) at
 * parallelism 2, a map, into a discarding sink. `records` in all.
 */
import { defineJob, sinks, sources } from "flotilla";

export default defineJob({ name: "observe-pipeline", parallelism: 2 }, (env) => {
  const records = Number(env.arg("records", "400000"));
  env
    .source(sources.sequence({ keys: 8, perKey: Math.ceil(records / 8) }))
    .keyBy((r) => r.key)
    .map((r) => r.seq * 2)
    .sink(sinks.discard());
});
