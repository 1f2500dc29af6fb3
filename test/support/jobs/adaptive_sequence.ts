/**
 * The exactly-once sequence check (examples/sequence-check.ts) with the adaptive scheduler: it
 * asks for parallelism 4 (or --parallelism) and runs with the slots there are.
 */
import { defineJob, sinks } from "flotilla";
import { checkSequences, sequenceSource } from "../../../examples/sequence-check.ts";

export default defineJob(
  {
    name: "adaptive-sequence-check",
    parallelism: 4,
    scheduler: "adaptive",
    checkpointing: { intervalMs: 200 },
    restartStrategy: { type: "fixed-delay", attempts: 5, delayMs: 100 },
  },
  (env) => checkSequences(sequenceSource(env).uid("sequence")).sink(sinks.collect()),
);
