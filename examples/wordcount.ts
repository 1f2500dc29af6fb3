/**
 * Word count over a text file: split lines into words, key by word, keep a count per word in
 * keyed state, and emit every word's total when the input ends (an event-time timer at the end
 * of time fires on the final watermark). Run: `npx flotilla run examples/wordcount.ts`.
 */
import { defineJob, sinks, sources } from "flotilla";

/** Fires once the input has ended: the final watermark passes every timestamp. */
const END_OF_INPUT = Number.MAX_SAFE_INTEGER;

export default defineJob({ name: "wordcount", parallelism: 2 }, (env) =>
  env
    .source(sources.lines({ path: env.arg("input", "examples/data/words.txt") }))
    .flatMap((line: string) =>
      line
        .toLowerCase()
        .split(/[^a-z']+/)
        .filter(Boolean),
    )
    .keyBy((word) => word)
    .process<{ word: string; count: number }>({
      processElement(_word, ctx) {
        const count = ctx.state.value<number>("count");
        count.set((count.get() ?? 0) + 1);
        ctx.timers.registerEventTimeTimer(END_OF_INPUT);
      },
      onTimer(_time, ctx) {
        ctx.emit({ word: ctx.key, count: ctx.state.value<number>("count").get() ?? 0 });
      },
    })
    .name("count words")
    .sink(sinks.collect()),
);
