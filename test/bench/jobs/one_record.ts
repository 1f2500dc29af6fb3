/** The smallest job: one record through a map into a discarding sink (submit-latency benchmark). */
import { defineJob, sinks, sources } from "flotilla";

export default defineJob({ name: "one-record", parallelism: 1 }, (env) =>
  env
    .source(sources.collection([1]))
    .map((n) => n + 1)
    .sink(sinks.discard()),
);
