/**
 * The monitoring test's job: exactly `records` numbers from one reader, then idle until canceled
 * (so its series stay while Prometheus is asked), through a separate `count` vertex.
 */
import { defineJob, type SourceBatch, type SourceReader, sinks } from "flotilla";

function counted(total: number) {
  return {
    kind: "counted",
    parallelism: 1,
    bounded: false,
    createReader(): SourceReader<number> {
      let next = 0;
      return {
        async poll(max: number): Promise<SourceBatch<number>> {
          if (next >= total) {
            // Nothing left: wait a little rather than spin the task loop.
            await new Promise((resolve) => setTimeout(resolve, 50));
            return { values: [] };
          }
          const n = Math.min(max, total - next);
          const values = Array.from({ length: n }, (_, i) => next + i);
          next += n;
          return { values };
        },
        position: () => next,
        restore(positions: unknown[]) {
          next = Number(positions[0] ?? 0);
        },
      };
    },
    describe: () => ({ kind: "counted", total }),
  };
}

export default defineJob(
  { name: "monitored", parallelism: 1, checkpointing: { intervalMs: 1000 } },
  (env) =>
    env
      .source(counted(Number(env.arg("records", "10000"))))
      .rebalance()
      .map((n: number) => n * 2)
      .name("count")
      .uid("count")
      .sink(sinks.discard()),
);
