/**
 * A job whose first attempt gets stuck: the keyed process function's `open` never returns while
 * the file `--arg marker=<path>` does not exist (it creates it), so no checkpoint can complete.
 * Checkpoints expire after 400 ms, one may in a row: the second fails the attempt, and the
 * restart (fixed delay) runs through, collecting 10, 20, 30.
 */
import { existsSync, writeFileSync } from "node:fs";
import { defineJob, sinks, sources } from "flotilla";

export default defineJob(
  {
    name: "stuck-once",
    parallelism: 1,
    checkpointing: { intervalMs: 100, timeoutMs: 400, tolerableFailures: 1 },
    restartStrategy: { type: "fixed-delay", attempts: 2, delayMs: 100 },
  },
  (env) => {
    const marker = env.arg("marker");
    return env
      .source(sources.collection([1, 2, 3]))
      .keyBy((n: number) => n % 2)
      .process<number>({
        async open() {
          if (existsSync(marker)) return;
          writeFileSync(marker, "stuck once\n");
          await new Promise(() => {}); // never
        },
        processElement(n, ctx) {
          ctx.emit(n * 10);
        },
      })
      .sink(sinks.collect());
  },
);
