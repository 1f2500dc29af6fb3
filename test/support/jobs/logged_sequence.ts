/**
 * The exactly-once sequence check (examples/sequence-check.ts) writing its verdict rows to the
 * TaskManagers' log (sinks.log, message "sequence-check"), for a stack whose results no client
 * can collect: a per-job compose stack, whose TaskManager logs a test reads after the job.
 */
import { defineJob, sinks } from "flotilla";
import { checkSequences, sequenceSource } from "../../../examples/sequence-check.ts";

export default defineJob(
  {
    name: "logged-sequence-check",
    parallelism: 2,
    checkpointing: { intervalMs: 200 },
    restartStrategy: { type: "fixed-delay", attempts: 5, delayMs: 100 },
  },
  (env) =>
    checkSequences(sequenceSource(env).uid("sequence")).sink(
      sinks.log({ prefix: "sequence-check" }),
    ),
);
