/**
 * A vertex's watermarks and backpressure as Flink's REST answers them, from the counters its
 * subtasks last reported to the JobManager (`Task.metrics()`: busyMs, idleMs, backPressuredMs,
 * inputWatermark, cumulative). Ratios are taken between the two latest distinct reports a caller saw.
 */
import { LruCache } from "../core/mod.ts";
import {
  type BackPressureLevel,
  backPressureLevel,
  type JobVertexBackPressureInfo,
  type SubtaskBackPressureInfo,
  type SubtaskDetails,
  type VertexDetails,
  type WatermarksInfo,
} from "../protocol/mod.ts";

type Counters = Readonly<Record<string, number>>;

/** A subtask's last reported counters (SUBTASK_REST_COUNTERS), once it reported any. */
const countersOf = (subtask: SubtaskDetails): Counters | undefined => subtask.metrics;

/**
 * A watermark as Flink's gauge shows it: the end of input and "none yet" as Long.MAX_VALUE and
 * Long.MIN_VALUE (tasks report them as +/-2^63, which a double cannot tell from those).
 */
function watermarkText(watermark: number): string {
  if (!(watermark < 2 ** 63)) return "9223372036854775807";
  if (!(watermark > -(2 ** 63))) return "-9223372036854775808";
  return String(Math.trunc(watermark));
}

/** `<subtask>.currentInputWatermark` of each subtask that reported one, as Flink's route. */
export function vertexWatermarks(vertex: VertexDetails): WatermarksInfo {
  const out: WatermarksInfo = [];
  for (const subtask of vertex.subtasks) {
    const watermark = countersOf(subtask)?.inputWatermark;
    if (watermark === undefined) continue;
    out.push({
      id: `${subtask.subtask}.currentInputWatermark`,
      value: watermarkText(watermark),
    });
  }
  return out;
}

type Times = { busy: number; idle: number; backPressured: number };

const timesOf = (c: Counters): Times | undefined =>
  c.busyMs === undefined && c.idleMs === undefined && c.backPressuredMs === undefined
    ? undefined
    : { busy: c.busyMs ?? 0, idle: c.idleMs ?? 0, backPressured: c.backPressuredMs ?? 0 };

const LEVELS: readonly BackPressureLevel[] = ["ok", "low", "high"];

/** Subtasks whose last counters are remembered (bounded: a sample per subtask asked about). */
export const MAX_BACKPRESSURE_SAMPLES = 4096;

/**
 * Backpressure per vertex. A subtask's ratios are over the time between its two latest different
 * reports this sampler saw; the first time, over the subtask's whole run.
 */
export class BackPressureSampler {
  /** Per subtask: the counters last seen and the window the answer was computed over. */
  readonly #previous = new LruCache<string, { times: Times; window: Times }>(
    MAX_BACKPRESSURE_SAMPLES,
  );

  info(jobId: string, vertex: VertexDetails, now: number): JobVertexBackPressureInfo {
    const subtasks: SubtaskBackPressureInfo[] = [];
    for (const subtask of vertex.subtasks) {
      const counters = countersOf(subtask);
      const times = counters && timesOf(counters);
      if (!times) continue;
      const key = `${jobId}/${vertex.id}/${subtask.subtask}/${subtask.attempt ?? 0}`;
      const before = this.#previous.get(key);
      let window = before?.window ?? times;
      const delta = before && {
        busy: times.busy - before.times.busy,
        idle: times.idle - before.times.idle,
        backPressured: times.backPressured - before.times.backPressured,
      };
      if (delta && delta.busy + delta.idle + delta.backPressured > 0) window = delta;
      if (!before || window !== before.window) this.#previous.set(key, { times, window });
      const total = window.busy + window.idle + window.backPressured;
      const share = (part: number) => (total > 0 ? Math.min(1, Math.max(0, part / total)) : 0);
      const ratio = share(window.backPressured);
      subtasks.push({
        subtask: subtask.subtask,
        "backpressure-level": backPressureLevel(ratio),
        ratio,
        idleRatio: share(window.idle),
        busyRatio: share(window.busy),
      });
    }
    if (subtasks.length === 0) return { status: "deprecated" };
    const worst = Math.max(...subtasks.map((s) => LEVELS.indexOf(s["backpressure-level"])));
    return {
      status: "ok",
      "backpressure-level": LEVELS[worst] ?? "ok",
      "end-timestamp": now,
      subtasks,
    };
  }
}
