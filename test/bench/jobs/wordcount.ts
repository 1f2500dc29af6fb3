/**
 * The benchmark's word count: generated lines of ten words, split, keyed by word (a hash
 * exchange), counted in keyed state, each word's total emitted at the end of input.
 */
import { defineJob, type JobEnv, type JobOptions, sinks, sources } from "flotilla";

const VOCABULARY = Array.from({ length: 1000 }, (_, i) => `w${i.toString(36)}`);
const END_OF_INPUT = Number.MAX_SAFE_INTEGER;

function build(env: JobEnv) {
  const lines = Number(env.arg("lines", "100000"));
  const keys = 16;
  env
    .source(sources.sequence({ keys, perKey: Math.ceil(lines / keys) }))
    .map((r) => {
      const words: string[] = [];
      for (let i = 0; i < 10; i++)
        words.push(VOCABULARY[(r.seq * 7 + r.key * 131 + i * 37) % VOCABULARY.length]!);
      return words.join(" ");
    })
    .flatMap((line) => line.split(" "))
    .keyBy((word) => word)
    .process<[string, number]>({
      processElement(_word, ctx) {
        const count = ctx.state.value<number>("count");
        count.set((count.get() ?? 0) + 1);
        ctx.timers.registerEventTimeTimer(END_OF_INPUT);
      },
      onTimer(_t, ctx) {
        ctx.emit([ctx.key, ctx.state.value<number>("count").get() ?? 0]);
      },
    })
    .sink(sinks.collect());
}

const options: JobOptions = { name: "bench-wordcount", parallelism: 2 };
export const plain = defineJob(options, build);
export const checkpointed = defineJob({ ...options, checkpointing: { intervalMs: 1000 } }, build);
export const jobs = { plain, checkpointed };
