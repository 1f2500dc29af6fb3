/**
 * A job whose keyed task never finishes `open`: the job stays RUNNING for good (its source ends,
 * the task never does; checkpoint expiries are tolerated, no restart), and no savepoint completes.
 */
import { defineJob, sinks, sources } from "flotilla";

export default defineJob(
  {
    name: "stuck-open",
    parallelism: 1,
    checkpointing: { intervalMs: 60_000, timeoutMs: 400, tolerableFailures: 1000 },
    restartStrategy: { type: "none" },
  },
  (env) =>
    env
      .source(sources.collection([1, 2, 3]))
      .keyBy((n: number) => n % 2)
      .process<number>({
        async open() {
          await new Promise(() => {}); // never
        },
        processElement(n, ctx) {
          ctx.emit(n);
        },
      })
      .sink(sinks.collect()),
);
