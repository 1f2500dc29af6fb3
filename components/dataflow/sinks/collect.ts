/**
 * A sink that hands results back to whoever runs the job (`ctx.publishResults`). With
 * checkpoints, values are staged per checkpoint and handed over once it completed; without, at
 * the end of input.
 *
 * Bounded by `collect-sink.max-records` twice: whoever keeps the results (the JobManager) fails
 * the job, without a restart, when their total would pass it, and a subtask holding more than it
 * uncommitted (no checkpoints and endless input, say) fails. Flink's collect sink bounds its
 * batches (`collect-sink.batch-size.max`) and is meant for small results too; a job that hands
 * back more than this writes to a real sink.
 */
import { ErrorCode, FlotillaError } from "../../core/mod.ts";
import { jobRuntimeSettings } from "../runtime/job_runtime_settings.ts";
import type { Sink, SinkWriter } from "../types.ts";
import { inCheckpointOrder } from "./support.ts";

/** What a checkpoint stages: the values written since the previous barrier. */
export interface CollectStaged<T> {
  values: T[];
}

export function collect<T = unknown>(): Sink<T> {
  return {
    kind: "collect",
    createWriter(ctx): SinkWriter<T> {
      const sinkId = ctx.operatorId;
      const maxRecords = jobRuntimeSettings().collectMaxRecords;
      let buffered: T[] = [];
      // Within one attempt a staged batch is handed over once even if commit is called again
      // (after a rescale one writer may commit batches of several old subtasks).
      const committed = new Set<string>();
      return {
        write(value) {
          if (buffered.length >= maxRecords)
            throw new FlotillaError(
              ErrorCode.PAYLOAD_TOO_LARGE,
              `collect sink ${sinkId} holds ${maxRecords} values not yet committed, the most collect-sink.max-records allows: enable checkpoints so results are handed over as they complete, raise the limit, or write to a real sink`,
            );
          buffered.push(value);
        },
        prepareCommit(): CollectStaged<T> {
          const values = buffered;
          buffered = [];
          return { values };
        },
        async commit(entries) {
          for (const { checkpointId, subtask, staged } of inCheckpointOrder<CollectStaged<T>>(
            entries,
          )) {
            const batchId = `${subtask}.${checkpointId}`;
            if (committed.has(batchId)) continue;
            if (staged.values.length > 0) await ctx.publishResults(sinkId, staged.values, batchId);
            committed.add(batchId);
          }
        },
        async finish() {
          const values = buffered;
          buffered = [];
          if (values.length > 0) await ctx.publishResults(sinkId, values);
        },
      };
    },
    describe: () => ({ kind: "collect" }),
  };
}
