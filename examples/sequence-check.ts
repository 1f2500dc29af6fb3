/**
 * The exactly-once check, after Flink's SequenceGeneratorSource + SemanticsCheckMapper: the
 * source emits, per key, sequence numbers 0, 1, 2, ...; a keyed check remembers the last one and
 * raises an alert when the next is not exactly one more (a record lost or seen twice). At the end
 * it reports each key's count. With checkpoints and restarts, a correct run has no alert and
 * every key's count equals `perKey`.
 */
import { type DataStream, defineJob, type JobEnv, sinks, sources } from "flotilla";

export type CheckResult =
  | { kind: "alert"; key: number; expected: number; got: number }
  | { kind: "count"; key: number; count: number };

const END_OF_INPUT = Number.MAX_SAFE_INTEGER;

/** The check itself, reusable by tests that wrap the source in failure injection. */
export function checkSequences(
  records: DataStream<{ key: number; seq: number }>,
): DataStream<CheckResult> {
  return records
    .keyBy((r) => r.key)
    .process<CheckResult>({
      processElement(r, ctx) {
        const last = ctx.state.value<number>("last");
        const count = ctx.state.value<number>("count");
        const expected = (last.get() ?? -1) + 1;
        if (r.seq !== expected) ctx.emit({ kind: "alert", key: r.key, expected, got: r.seq });
        last.set(r.seq);
        count.set((count.get() ?? 0) + 1);
        ctx.timers.registerEventTimeTimer(END_OF_INPUT);
      },
      onTimer(_time, ctx) {
        ctx.emit({
          kind: "count",
          key: ctx.key,
          count: ctx.state.value<number>("count").get() ?? 0,
        });
      },
    })
    .name("check sequences")
    .uid("check-sequences");
}

export function sequenceSource(env: JobEnv) {
  return env.source(
    sources.sequence({
      keys: Number(env.arg("keys", "16")),
      perKey: Number(env.arg("perKey", "1000")),
      ratePerSecond: Number(env.arg("rate", "20000")),
    }),
  );
}

export default defineJob(
  {
    name: "sequence-check",
    parallelism: 2,
    checkpointing: { intervalMs: 200 },
    restartStrategy: { type: "fixed-delay", attempts: 5, delayMs: 100 },
  },
  (env) => checkSequences(sequenceSource(env).uid("sequence")).sink(sinks.collect()),
);
