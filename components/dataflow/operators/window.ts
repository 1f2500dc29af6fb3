/**
 * The keyed window operator: assigns each record to windows, folds it into the window's
 * accumulator in keyed state, and emits `{ key, start, end, value }` when the window's timer fires
 * (Flink's WindowOperator with its default event- or processing-time trigger). Window contents
 * and timers live in the keyed backend, so checkpoints and rescaling carry them.
 */
import { ErrorCode, FlotillaError, InvalidArgumentError } from "../../core/mod.ts";
import { hasTimers, type KeyedBackendWithTimers } from "../state/heap_backend.ts";
import {
  type Counter,
  MAX_WATERMARK,
  type MapState,
  MIN_WATERMARK,
  type OperatorContext,
  type OperatorFactory,
  type Output,
  type StreamOperator,
  type TimerService,
  type Timestamp,
} from "../types.ts";
import { intersects, type Window, type WindowAssigner } from "../windows.ts";

/** What a window emits. */
export interface WindowResult<K, R> {
  key: K;
  start: number;
  /** Exclusive. */
  end: number;
  value: R;
}

/** How a window folds its records. Accumulators are keyed state: keep them CBOR-encodable. */
export type WindowAggregation<IN, ACC = unknown, R = unknown> =
  | { kind: "reduce"; reduce: (a: IN, b: IN) => IN }
  | {
      kind: "aggregate";
      create: () => ACC;
      add: (accumulator: ACC, value: IN) => ACC;
      /** Combines two accumulators; needed by session windows, which merge. */
      merge?: (a: ACC, b: ACC) => ACC;
      result: (accumulator: ACC) => R;
    }
  | { kind: "count" };

export interface WindowOperatorOptions<IN, ACC, R> {
  assigner: WindowAssigner;
  aggregation: WindowAggregation<IN, ACC, R>;
  /** Event time: how long (ms) after a window fired late records still update it. @default 0 */
  allowedLatenessMs?: number;
}

/** The aggregation folded into one shape; `undefined` accumulators never reach these. */
interface Folder {
  add(accumulator: unknown, has: boolean, value: unknown): unknown;
  merge: ((a: unknown, b: unknown) => unknown) | undefined;
  result(accumulator: unknown): unknown;
}

/** The folder's state is untyped: what goes in is what the aggregation's own functions made. */
function folderOf<IN, ACC, R>(aggregation: WindowAggregation<IN, ACC, R>): Folder {
  switch (aggregation?.kind) {
    case "reduce": {
      const { reduce } = aggregation;
      checkFunction("reduce", reduce);
      return {
        add: (acc, has, v) => (has ? reduce(acc as IN, v as IN) : v),
        merge: (a, b) => reduce(a as IN, b as IN),
        result: (acc) => acc,
      };
    }
    case "aggregate": {
      const { create, add, merge, result } = aggregation;
      for (const [name, fn] of Object.entries({ create, add, result }))
        checkFunction(`aggregate '${name}'`, fn);
      if (merge !== undefined) checkFunction("aggregate 'merge'", merge);
      return {
        add: (acc, has, v) => add(has ? (acc as ACC) : create(), v as IN),
        merge: merge && ((a, b) => merge(a as ACC, b as ACC)),
        result: (acc) => result(acc as ACC),
      };
    }
    case "count":
      return {
        add: (acc, has) => (has ? (acc as number) + 1 : 1),
        merge: (a, b) => (a as number) + (b as number),
        result: (acc) => acc,
      };
    default:
      throw new InvalidArgumentError(
        `window aggregation must be reduce, aggregate or count, got ${JSON.stringify((aggregation as { kind?: unknown })?.kind)}`,
      );
  }
}

function checkFunction(what: string, fn: unknown): void {
  if (typeof fn !== "function")
    throw new InvalidArgumentError(`window ${what} needs a function, got ${typeof fn}`);
}

/** Window state of one key: window start -> [end, accumulator]. Starts are unique per key. */
const STATE = "window-contents";

export class WindowOperator<IN, K = unknown, ACC = unknown, R = unknown>
  implements StreamOperator<IN, WindowResult<K, R>>
{
  readonly #assigner: WindowAssigner;
  readonly #folder: Folder;
  readonly #lateness: number;
  readonly #eventTime: boolean;
  #ctx!: OperatorContext<WindowResult<K, R>>;
  #out!: Output<WindowResult<K, R>>;
  #backend!: KeyedBackendWithTimers;
  #timers!: TimerService;
  #contents!: MapState<number, [number, unknown]>;
  #lateDropped!: Counter;
  /** A restored watermark waiting for open(). */
  #restoredWatermark = MIN_WATERMARK;

  constructor({ assigner, aggregation, allowedLatenessMs = 0 }: WindowOperatorOptions<IN, ACC, R>) {
    if (!assigner || typeof assigner.assign !== "function") {
      throw new InvalidArgumentError(
        "window() needs a window assigner, e.g. windows.tumbling({ size: 1000 })",
      );
    }
    if (
      typeof allowedLatenessMs !== "number" ||
      !(allowedLatenessMs >= 0) ||
      !Number.isFinite(allowedLatenessMs)
    ) {
      throw new InvalidArgumentError(
        `window(): 'allowedLatenessMs' must be a number of ms >= 0, got ${JSON.stringify(allowedLatenessMs)}`,
      );
    }
    this.#assigner = assigner;
    this.#folder = folderOf(aggregation);
    if (assigner.merging && this.#folder.merge === undefined) {
      throw new InvalidArgumentError(
        `${assigner.kind} windows merge, so aggregate() needs a 'merge(a, b)' that combines two accumulators`,
      );
    }
    this.#eventTime = assigner.time !== "processing";
    // Processing time has no late records, so nothing to keep a window for after it fired.
    this.#lateness = this.#eventTime ? allowedLatenessMs : 0;
  }

  open(ctx: OperatorContext<WindowResult<K, R>>): void {
    if (!hasTimers(ctx.keyed)) {
      throw new FlotillaError(
        ErrorCode.INTERNAL,
        "window() runs on a keyed stream and needs a keyed backend with timers (createKeyedBackend) as ctx.keyed; call keyBy(...) before window(...)",
      );
    }
    this.#ctx = ctx;
    this.#out = ctx.output;
    this.#backend = ctx.keyed;
    this.#timers = ctx.keyed.timers;
    this.#contents = ctx.keyed.map<number, [number, unknown]>(STATE);
    this.#lateDropped = ctx.counter("lateRecordsDropped");
    this.#applyRestoredWatermark();
  }

  /**
   * The watermark is not keyed state, but late-record decisions depend on it: without it a
   * restored instance would accept records the original had dropped until the next watermark.
   */
  snapshotState(_checkpointId: number): { watermark: number } | undefined {
    const watermark = this.#backend.timers.currentWatermark();
    return Number.isFinite(watermark) ? { watermark } : undefined;
  }

  /** All instances' watermarks: the lowest is one every instance had passed. */
  restoreState(states: unknown[]): void {
    const watermarks = states.map((s) => (s as { watermark?: unknown } | null)?.watermark);
    if (watermarks.length === 0 || !watermarks.every((w) => typeof w === "number")) return;
    this.#restoredWatermark = Math.min(...(watermarks as number[]));
    if (this.#backend !== undefined) this.#applyRestoredWatermark();
  }

  #applyRestoredWatermark(): void {
    if (this.#restoredWatermark === MIN_WATERMARK) return;
    // Nothing is due at a restored watermark (timers at or behind it fired before the snapshot).
    this.#backend.advanceWatermark(this.#restoredWatermark, (time, key) =>
      this.onEventTime(time, key),
    );
    this.#restoredWatermark = MIN_WATERMARK;
  }

  processElement(value: IN, timestamp: Timestamp | undefined): void {
    let time: number;
    if (!this.#eventTime) time = this.#ctx.now();
    else if (typeof timestamp === "number" && !Number.isNaN(timestamp)) time = timestamp;
    else {
      throw new InvalidArgumentError(
        'an event-time window got a record without a timestamp: call assignTimestamps(...) before keyBy(...), use a source with timestamps, or use time: "processing"',
      );
    }
    const assigned = this.#assigner.assign(time);
    if (this.#assigner.merging) {
      for (const window of assigned) this.#addMerging(window, value);
      return;
    }
    let accepted = false;
    for (const window of assigned) {
      if (this.#isLate(window)) continue;
      accepted = true;
      const held = this.#contents.get(window.start);
      const acc = this.#folder.add(held?.[1], held !== undefined, value);
      this.#contents.set(window.start, [window.end, acc]);
      this.#onWindowUpdated(window, acc);
    }
    if (!accepted) this.#lateDropped.inc();
  }

  /** Session windows: merge the record's window with every window of the key it touches. */
  #addMerging(window: Window, value: IN): void {
    let start = window.start;
    let end = window.end;
    const touching: [number, [number, unknown]][] = [];
    for (const entry of this.#contents.entries()) {
      const [s, [e]] = entry;
      if (!intersects(window, { start: s, end: e })) continue;
      touching.push(entry);
      if (s < start) start = s;
      if (e > end) end = e;
    }
    const merged = { start, end };
    // Windows still held are never late, so a late result can only be the record's own window.
    if (this.#isLate(merged)) {
      this.#lateDropped.inc();
      return;
    }
    touching.sort((a, b) => a[0] - b[0]);
    let acc: unknown;
    let has = false;
    for (const [s, [, held]] of touching) {
      acc = has ? this.#folder.merge!(acc, held) : held;
      has = true;
      this.#contents.delete(s);
    }
    acc = this.#folder.add(acc, has, value);
    this.#contents.set(start, [end, acc]);
    // Timers of the windows merged away stay; they find no window ending there and do nothing.
    this.#onWindowUpdated(merged, acc);
  }

  /** Flink's EventTimeTrigger/ProcessingTimeTrigger onElement, plus the cleanup timer. */
  #onWindowUpdated(window: Window, acc: unknown): void {
    const last = window.end - 1;
    if (!this.#eventTime) {
      this.#timers.registerProcessingTimeTimer(last);
      return;
    }
    if (last <= this.#timers.currentWatermark()) {
      // Late but within the allowed lateness: the window already fired, fire the update now.
      this.#emit(window, acc);
    } else {
      this.#timers.registerEventTimeTimer(last);
    }
    if (this.#lateness > 0) this.#timers.registerEventTimeTimer(last + this.#lateness);
  }

  #isLate(window: Window): boolean {
    return this.#eventTime && window.end - 1 + this.#lateness <= this.#timers.currentWatermark();
  }

  processWatermark(watermark: Timestamp): void {
    // Idempotent: if the runtime already advanced the backend, nothing is left to fire here.
    this.#backend.advanceWatermark(watermark, (time, key) => this.onEventTime(time, key));
    this.#out.emitWatermark(watermark);
  }

  onEventTime(time: Timestamp, _key: unknown): void {
    if (!this.#eventTime) return;
    for (const [start, [end, acc]] of this.#contents.entries()) {
      const last = end - 1;
      if (last === time) this.#emit({ start, end }, acc);
      if (last + this.#lateness <= time) this.#contents.delete(start);
    }
  }

  onProcessingTime(time: number, _key: unknown): void {
    if (this.#eventTime) return;
    for (const [start, [end, acc]] of this.#contents.entries()) {
      if (end - 1 > time) continue;
      this.#emit({ start, end }, acc);
      this.#contents.delete(start);
    }
  }

  /** Fires every window still open, event and processing time, so bounded jobs see all results. */
  endInput(): void {
    this.#backend.advanceWatermark(MAX_WATERMARK, (time, key) => this.onEventTime(time, key));
    this.#backend.advanceProcessingTime(Number.POSITIVE_INFINITY, (time, key) =>
      this.onProcessingTime(time, key),
    );
  }

  #emit(window: Window, acc: unknown): void {
    const result: WindowResult<K, R> = {
      key: this.#backend.currentKey() as K,
      start: window.start,
      end: window.end,
      value: this.#folder.result(acc) as R,
    };
    this.#out.collect(result, window.end - 1);
  }
}

/** The factory the graph stores: a fresh operator per parallel instance. */
export function windowOperator<IN, K = unknown, ACC = unknown, R = unknown>(
  options: WindowOperatorOptions<IN, ACC, R>,
): OperatorFactory<IN, WindowResult<K, R>> {
  // Validate once, when the job is defined, rather than in every task.
  new WindowOperator<IN, K, ACC, R>(options);
  return () => new WindowOperator<IN, K, ACC, R>(options);
}
