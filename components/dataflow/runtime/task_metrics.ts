/**
 * What a task reports as its metrics (`Task.metrics()`): cumulative counters the TaskManager
 * serves on /metrics and sends its JobManager, all finite numbers (reports are checked by zod and
 * may travel as JSON).
 */
import type { Counter } from "../types.ts";
import type { InputGate } from "./input_gate.ts";
import type { RecordWriter } from "./record_writer.ts";
import type { TaskTimes } from "./task_times.ts";

/**
 * A watermark as a metric: the end of input (+Infinity) and "none yet" (-Infinity) as Flink's
 * Long.MAX_VALUE and Long.MIN_VALUE. Reports are CBOR checked by zod, and JSON: neither carries
 * an infinity (a task's last report, with the final watermark, was refused and the job hung).
 */
export const finite = (watermark: number): number =>
  watermark === Number.POSITIVE_INFINITY
    ? 2 ** 63
    : watermark === Number.NEGATIVE_INFINITY
      ? -(2 ** 63)
      : watermark;

export interface TaskMetricSources {
  recordsIn: number;
  output: RecordWriter;
  gate: InputGate | undefined;
  times: TaskTimes;
  inputWatermark: number | undefined;
  /** The chain's operators' own named counters. */
  counters: Map<string, Counter>;
}

/**
 * Records and bytes in/out, credit waits, busy, idle and back-pressured ms since it runs, the
 * watermarks once there are any, and the operators' named counters.
 */
export function taskMetrics(s: TaskMetricSources): Record<string, number> {
  const dataPlane = s.output.dataPlane();
  const out: Record<string, number> = {
    recordsIn: s.recordsIn,
    recordsOut: s.output.recordsOut,
    bytesIn: s.gate?.bytesIn() ?? 0,
    bytesOut: dataPlane.bytes,
    creditWaits: dataPlane.creditWaits,
    ...s.times.totals(),
  };
  if (s.inputWatermark !== undefined) out.inputWatermark = finite(s.inputWatermark);
  if (s.output.outputWatermark !== undefined)
    out.outputWatermark = finite(s.output.outputWatermark);
  for (const [name, c] of s.counters) out[name] = c.get();
  return out;
}
