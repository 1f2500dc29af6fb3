/**
 * Collects every record of a sequence source (`keys` x `perKey` values), without checkpoints: for
 * many short jobs, and for the collect sink's cap (`collect-sink.max-records`), which must fail
 * the job even though its restart strategy would restart it after other failures.
 */
import { defineJob, sinks, sources } from "flotilla";

export default defineJob(
  {
    name: "collect-all",
    parallelism: 1,
    restartStrategy: { type: "fixed-delay", attempts: 3, delayMs: 10 },
  },
  (env) =>
    env
      .source(
        sources.sequence({
          keys: Number(env.arg("keys", "1")),
          perKey: Number(env.arg("perKey", "1")),
          ratePerSecond: 1_000_000,
        }),
      )
      .sink(sinks.collect()),
);
