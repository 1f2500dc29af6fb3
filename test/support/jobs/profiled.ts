/** A job whose keyed vertex asks for `memoryMb` (job argument) per slot: for placement tests. */
import { defineJob, sinks, sources } from "flotilla";

export default defineJob({ name: "profiled", parallelism: 1 }, (env) =>
  env
    .source(sources.sequence({ keys: 2, perKey: 200, ratePerSecond: 2000 }))
    .keyBy((r) => r.key)
    .reduce((a, b) => (a.seq > b.seq ? a : b))
    .resources({ memoryMb: Number(env.arg("memoryMb", "1024")) })
    .sink(sinks.discard()),
);
