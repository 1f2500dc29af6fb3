/**
 * A checkpointing job that fails once and recovers, then finishes: a rated sequence (one key,
 * 1000 records at 200/s, a checkpoint every 100 ms) whose map throws at record 200 while the file
 * `--arg marker=<path>` does not exist, creating it. The restart (fixed delay 200 ms) restores the
 * latest checkpoint; what the history tests read.
 */
import { existsSync, writeFileSync } from "node:fs";
import { defineJob, sinks, sources } from "flotilla";

export default defineJob(
  {
    name: "checkpointed-fails-once",
    parallelism: 1,
    checkpointing: { intervalMs: 100 },
    restartStrategy: { type: "fixed-delay", attempts: 3, delayMs: 200 },
  },
  (env) => {
    const marker = env.arg("marker");
    return env
      .source(sources.sequence({ keys: 1, perKey: 1000, ratePerSecond: 200 }))
      .map((r) => {
        if (r.seq === 200 && !existsSync(marker)) {
          writeFileSync(marker, "failed once\n");
          throw new Error("planned failure at record 200");
        }
        return r.seq;
      })
      .name("fails once")
      .sink(sinks.discard());
  },
);
