/** A sink that drops every record (Flink's DiscardingSink): for benchmarks and dry runs. */
import type { Sink } from "../types.ts";

export function discard<T = unknown>(): Sink<T> {
  return {
    kind: "discard",
    createWriter: (ctx) => {
      const dropped = ctx.counter("recordsDiscarded");
      return { write: () => dropped.inc() };
    },
    describe: () => ({ kind: "discard" }),
  };
}
