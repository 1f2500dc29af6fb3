/**
 * A job whose keyed vertex asks for `memoryMb` (and, when given, `cpu`) per slot (job arguments):
 * for placement tests and the docker driver's container limits.
 */
import { defineJob, sinks, sources } from "flotilla";

export default defineJob({ name: "profiled", parallelism: 1 }, (env) =>
  env
    .source(sources.sequence({ keys: 2, perKey: 200, ratePerSecond: 2000 }))
    .keyBy((r) => r.key)
    .reduce((a, b) => (a.seq > b.seq ? a : b))
    .resources({
      memoryMb: Number(env.arg("memoryMb", "1024")),
      ...(env.arg("cpu", "") ? { cpu: Number(env.arg("cpu")) } : {}),
    })
    .sink(sinks.discard()),
);
