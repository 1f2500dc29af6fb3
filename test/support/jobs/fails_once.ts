/**
 * A job whose first attempt fails and whose restart succeeds: the map throws while the file
 * `--arg marker=<path>` does not exist, creating it. Restarts after 1.5 s (fixed delay, 3
 * attempts: time for a test to act in between); it collects 10, 20, 30.
 */
import { existsSync, writeFileSync } from "node:fs";
import { defineJob, sinks, sources } from "flotilla";

export default defineJob(
  {
    name: "fails-once",
    parallelism: 1,
    restartStrategy: { type: "fixed-delay", attempts: 3, delayMs: 1500 },
  },
  (env) => {
    const marker = env.arg("marker");
    return env
      .source(sources.collection([1, 2, 3]))
      .map((n: number): number => {
        if (!existsSync(marker)) {
          writeFileSync(marker, "failed once\n");
          throw new Error("the first attempt fails");
        }
        return n * 10;
      })
      .sink(sinks.collect());
  },
);
