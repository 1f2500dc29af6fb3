/**
 * The operator behind `assignTimestamps(fn, options)`: stamps each record with its event time
 * and is the source of watermarks from there on, bounded-out-of-orderness style (Flink's
 * BoundedOutOfOrdernessWatermarks): watermark = highest timestamp seen - maxOutOfOrderMs - 1.
 */
import { InvalidArgumentError } from "../../core/mod.ts";
import {
  type Counter,
  MAX_WATERMARK,
  MIN_WATERMARK,
  type OperatorContext,
  type Output,
  type StreamOperator,
  type Timestamp,
} from "../types.ts";

export interface AssignTimestampsOptions {
  /** How far (ms) a record may trail the highest timestamp seen and still be on time. @default 0 */
  maxOutOfOrderMs?: number;
  /**
   * Records at or behind the current watermark: "keep" passes them on (windows downstream
   * decide), "drop" drops them here and counts them in `lateRecordsDropped`. @default "keep"
   */
  late?: "keep" | "drop";
  /** Minimum processing time (ms) between two watermarks. @default 200 */
  watermarkIntervalMs?: number;
}

export interface CompiledAssignTimestampsOptions {
  maxOutOfOrderMs: number;
  late: "keep" | "drop";
  watermarkIntervalMs: number;
}

export function compileAssignTimestampsOptions({
  maxOutOfOrderMs = 0,
  late = "keep",
  watermarkIntervalMs = 200,
}: AssignTimestampsOptions = {}): CompiledAssignTimestampsOptions {
  for (const [name, value] of Object.entries({ maxOutOfOrderMs, watermarkIntervalMs })) {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new InvalidArgumentError(
        `assignTimestamps(): '${name}' must be a number of ms >= 0, got ${JSON.stringify(value)}`,
      );
    }
  }
  if (late !== "keep" && late !== "drop") {
    throw new InvalidArgumentError(
      `assignTimestamps(): 'late' must be "keep" or "drop", got ${JSON.stringify(late)}`,
    );
  }
  return { maxOutOfOrderMs, late, watermarkIntervalMs };
}

export class TimestampsOperator<T> implements StreamOperator<T, T> {
  readonly #fn: (value: T) => Timestamp;
  readonly #options: CompiledAssignTimestampsOptions;
  #out!: Output<T>;
  #now!: () => number;
  #lateDropped!: Counter;
  #maxTimestamp = MIN_WATERMARK;
  /** The last watermark emitted downstream. */
  #watermark = MIN_WATERMARK;
  #lastEmitAt = Number.NEGATIVE_INFINITY;

  constructor(fn: (value: T) => Timestamp, options: AssignTimestampsOptions = {}) {
    if (typeof fn !== "function") {
      throw new InvalidArgumentError(
        `assignTimestamps() needs a function returning epoch ms, got ${typeof fn}`,
      );
    }
    this.#fn = fn;
    this.#options = compileAssignTimestampsOptions(options);
  }

  open(ctx: OperatorContext<T>): void {
    this.#out = ctx.output;
    this.#now = () => ctx.now();
    this.#lateDropped = ctx.counter("lateRecordsDropped");
  }

  processElement(value: T, _timestamp: Timestamp | undefined): void {
    const timestamp = this.#fn(value);
    if (typeof timestamp !== "number" || Number.isNaN(timestamp)) {
      throw new InvalidArgumentError(
        `assignTimestamps(): the timestamp function returned ${JSON.stringify(timestamp)} for ${preview(value)}; it must return epoch ms as a number`,
      );
    }
    if (timestamp <= this.#watermark && this.#options.late === "drop") {
      this.#lateDropped.inc();
      return;
    }
    this.#out.collect(value, timestamp);
    if (timestamp > this.#maxTimestamp) this.#maxTimestamp = timestamp;
    this.onPeriodicEmit();
  }

  /**
   * Emits the watermark if it advanced and the interval has passed. Called per record; a runtime
   * may also call it when the input is idle so the watermark does not wait for the next record.
   */
  onPeriodicEmit(): void {
    const watermark = this.#maxTimestamp - this.#options.maxOutOfOrderMs - 1;
    if (watermark <= this.#watermark) return;
    const now = this.#now();
    if (now - this.#lastEmitAt < this.#options.watermarkIntervalMs) return;
    this.#lastEmitAt = now;
    this.#watermark = watermark;
    this.#out.emitWatermark(watermark);
  }

  /** Upstream watermarks are ignored: from here on, this operator is the watermark source. */
  processWatermark(_watermark: Timestamp): void {}

  endInput(): void {
    if (this.#watermark === MAX_WATERMARK) return;
    this.#watermark = MAX_WATERMARK;
    this.#out.emitWatermark(MAX_WATERMARK);
  }
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
