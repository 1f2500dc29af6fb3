/** A job that always fails: its map throws on the first record, and it never restarts. */
import { defineJob, sinks, sources } from "flotilla";

export default defineJob({ name: "always-fails", restartStrategy: { type: "none" } }, (env) =>
  env
    .source(sources.collection([1, 2, 3]))
    .map((n): number => {
      throw new Error(`record ${n} is not welcome`);
    })
    .sink(sinks.discard()),
);
