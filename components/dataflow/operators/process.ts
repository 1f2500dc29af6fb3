/**
 * Keyed user logic: `process` (a KeyedProcessFunction with state and timers) and the rolling
 * `reduce`. The runtime sets the current key before each record and timer, so state accessors
 * always read and write the right key's entry.
 */
import { ErrorCode, FlotillaError } from "../../core/mod.ts";
import type {
  KeyedStateStore,
  OperatorContext,
  Output,
  RuntimeContext,
  StreamOperator,
  TimerService,
  Timestamp,
  ValueState,
} from "../types.ts";

export interface ProcessContext<K, OUT> {
  /** The key of the record (or timer) being processed. */
  readonly key: K;
  /** The record's event timestamp, if it has one (the timer's time in onTimer). */
  readonly timestamp: Timestamp | undefined;
  readonly state: KeyedStateStore;
  readonly timers: TimerService;
  readonly runtime: RuntimeContext;
  emit(value: OUT, timestamp?: Timestamp): void;
}

export interface TimerContext<K, OUT> extends ProcessContext<K, OUT> {
  readonly domain: "event" | "processing";
}

export interface KeyedProcessFunction<IN, K, OUT> {
  open?(runtime: RuntimeContext): void | Promise<void>;
  processElement(value: IN, ctx: ProcessContext<K, OUT>): void;
  onTimer?(time: Timestamp, ctx: TimerContext<K, OUT>): void;
}

function keyedOnly(ctx: OperatorContext<unknown>, what: string): void {
  if (!ctx.keyed || !ctx.timers) {
    throw new FlotillaError(
      ErrorCode.INTERNAL,
      `${what} runs on a keyed stream but got no keyed state`,
    );
  }
}

/** Mutable context object reused for every call: no allocation per record. */
class Ctx<K, OUT> implements TimerContext<K, OUT> {
  key!: K;
  timestamp: Timestamp | undefined;
  domain: "event" | "processing" = "event";
  constructor(
    readonly state: KeyedStateStore,
    readonly timers: TimerService,
    readonly runtime: RuntimeContext,
    private readonly out: Output<OUT>,
  ) {}
  emit(value: OUT, timestamp?: Timestamp): void {
    this.out.collect(value, timestamp ?? this.timestamp);
  }
}

export class KeyedProcessOperator<IN, K, OUT> implements StreamOperator<IN, OUT> {
  readonly #fn: KeyedProcessFunction<IN, K, OUT>;
  #ctx!: Ctx<K, OUT>;
  #out!: Output<OUT>;
  #backend!: NonNullable<OperatorContext<OUT>["keyed"]>;

  constructor(fn: KeyedProcessFunction<IN, K, OUT>) {
    this.#fn = fn;
  }

  async open(ctx: OperatorContext<OUT>): Promise<void> {
    keyedOnly(ctx as OperatorContext<unknown>, "process()");
    this.#backend = ctx.keyed!;
    this.#out = ctx.output;
    this.#ctx = new Ctx<K, OUT>(ctx.keyed!, ctx.timers!, ctx, ctx.output);
    await this.#fn.open?.(ctx);
  }

  processElement(value: IN, timestamp: Timestamp | undefined): void {
    const ctx = this.#ctx;
    ctx.key = this.#backend.currentKey() as K;
    ctx.timestamp = timestamp;
    this.#fn.processElement(value, ctx);
  }

  processWatermark(watermark: Timestamp): void {
    this.#out.emitWatermark(watermark);
  }

  onEventTime(time: Timestamp, key: unknown): void {
    this.#fire(time, key, "event");
  }

  onProcessingTime(time: number, key: unknown): void {
    this.#fire(time, key, "processing");
  }

  #fire(time: number, key: unknown, domain: "event" | "processing"): void {
    const ctx = this.#ctx;
    ctx.key = key as K;
    ctx.timestamp = domain === "event" ? time : undefined;
    ctx.domain = domain;
    this.#fn.onTimer?.(time, ctx);
    ctx.domain = "event";
  }
}

/** Rolling reduce per key: emits the new aggregate after every record, as Flink's reduce. */
export class KeyedReduceOperator<T> implements StreamOperator<T, T> {
  readonly #fn: (a: T, b: T) => T;
  #state!: ValueState<T>;
  #out!: Output<T>;

  constructor(fn: (a: T, b: T) => T) {
    this.#fn = fn;
  }

  open(ctx: OperatorContext<T>): void {
    keyedOnly(ctx as OperatorContext<unknown>, "reduce()");
    this.#state = ctx.keyed!.value<T>("reduce");
    this.#out = ctx.output;
  }

  processElement(value: T, timestamp: Timestamp | undefined): void {
    const current = this.#state.get();
    const next = current === undefined ? value : this.#fn(current, value);
    this.#state.set(next);
    this.#out.collect(next, timestamp);
  }

  processWatermark(watermark: Timestamp): void {
    this.#out.emitWatermark(watermark);
  }
}
