/**
 * A one-vertex job that runs until canceled: a slow, unbounded sequence into a discarding sink,
 * chained into one task (the TaskManager's route tests deploy it without a JobManager).
 */
import { defineJob, sinks, sources } from "flotilla";

export default defineJob({ name: "endless", parallelism: 1 }, (env) =>
  env.source(sources.sequence({ keys: 1, ratePerSecond: 100 })).sink(sinks.discard()),
);
