/**
 * examples/sequence-check.ts with a restart budget for fault runs: the same source and check, a
 * checkpoint every 200 ms, and fixed-delay restarts that twenty kills in a row cannot use up (the
 * example's five attempts would fail the job, as they should for a user's job).
 */
import { defineJob, sinks } from "flotilla";
import { checkSequences, sequenceSource } from "../../../examples/sequence-check.ts";

export default defineJob(
  {
    name: "sequence-check-faults",
    parallelism: 4,
    checkpointing: { intervalMs: 200 },
    restartStrategy: { type: "fixed-delay", attempts: 1000, delayMs: 100 },
  },
  (env) => checkSequences(sequenceSource(env).uid("sequence")).sink(sinks.collect()),
);
