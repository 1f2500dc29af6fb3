/**
 * The typed stream API: `DataStream<T>`, `KeyedStream<T, K>` and `WindowedStream<T, K>`. Each
 * call records a node and returns a new stream, so a wrong type anywhere in a chain is a compile
 * error. Streams remember whether records carry event time, which picks the default window time.
 */
import { ErrorCode, FlotillaError } from "../../core/mod.ts";
import {
  type GraphRecorder,
  type OperatorNode,
  Partitioning,
  type ResourceSpec,
  type StreamNode,
} from "../graph/nodes.ts";
import { FilterOperator, FlatMapOperator, MapOperator } from "../operators/basic.ts";
import {
  type KeyedProcessFunction,
  KeyedProcessOperator,
  KeyedReduceOperator,
} from "../operators/process.ts";
import {
  type AssignTimestampsOptions,
  compileAssignTimestampsOptions,
  TimestampsOperator,
} from "../operators/timestamps.ts";
import { type WindowAggregation, type WindowResult, windowOperator } from "../operators/window.ts";
import type { OperatorFactory, Sink, Timestamp } from "../types.ts";
import type { WindowAssigner } from "../windows.ts";

function definitionError(message: string): FlotillaError {
  return new FlotillaError(ErrorCode.INVALID_ARGUMENT, message);
}

function checkFunction(what: string, fn: unknown): void {
  if (typeof fn !== "function") throw definitionError(`${what} needs a function, got ${typeof fn}`);
}

/** A stream of records of type T. */
export class DataStream<T> {
  protected readonly recorder: GraphRecorder;
  readonly node: StreamNode;
  /** True when records carry event timestamps (a source that sets them, or assignTimestamps). */
  readonly eventTime: boolean;

  constructor(recorder: GraphRecorder, node: StreamNode, eventTime: boolean) {
    this.recorder = recorder;
    this.node = node;
    this.eventTime = eventTime;
  }

  protected operator<R>(
    operator: string,
    factory: OperatorFactory,
    extra: Partial<OperatorNode> = {},
  ): DataStream<R> {
    const node = this.recorder.add({
      kind: "operator" as const,
      name: operator,
      operator,
      input: this.node,
      factory,
      ...extra,
    });
    return new DataStream<R>(this.recorder, node, this.eventTime);
  }

  map<R>(fn: (value: T) => R): DataStream<R> {
    checkFunction("map()", fn);
    return this.operator<R>("map", () => new MapOperator(fn));
  }

  filter(fn: (value: T) => boolean): DataStream<T> {
    checkFunction("filter()", fn);
    return this.operator<T>("filter", () => new FilterOperator(fn));
  }

  flatMap<R>(fn: (value: T) => Iterable<R>): DataStream<R> {
    checkFunction("flatMap()", fn);
    return this.operator<R>("flatMap", () => new FlatMapOperator(fn));
  }

  /**
   * Event time from the records: `fn` gives each record's timestamp (epoch ms); watermarks trail
   * the highest timestamp by `maxOutOfOrderMs`; `late` says what happens to records behind them.
   */
  assignTimestamps(
    fn: (value: T) => Timestamp,
    options: AssignTimestampsOptions = {},
  ): DataStream<T> {
    checkFunction("assignTimestamps()", fn);
    compileAssignTimestampsOptions(options);
    const stream = this.operator<T>("assignTimestamps", () => new TimestampsOperator(fn, options));
    return new DataStream<T>(this.recorder, stream.node, true);
  }

  /** Partitions by key: every record with the same key reaches the same parallel instance. */
  keyBy<K>(selector: (value: T) => K): KeyedStream<T, K> {
    checkFunction("keyBy()", selector);
    const node = this.recorder.add({
      kind: "partition",
      name: "keyBy",
      input: this.node,
      partitioning: Partitioning.HASH,
      keySelector: selector as (value: unknown) => unknown,
    });
    return new KeyedStream<T, K>(this.recorder, node, this.eventTime, selector);
  }

  /** Round-robin to every instance of the next operator. */
  rebalance(): DataStream<T> {
    return this.#partition(Partitioning.REBALANCE);
  }

  /** Every record to every instance of the next operator. */
  broadcast(): DataStream<T> {
    return this.#partition(Partitioning.BROADCAST);
  }

  #partition(partitioning: Partitioning): DataStream<T> {
    const node = this.recorder.add({
      kind: "partition",
      name: partitioning,
      input: this.node,
      partitioning,
    });
    return new DataStream<T>(this.recorder, node, this.eventTime);
  }

  /** Merges streams of the same type. */
  union(...others: DataStream<T>[]): DataStream<T> {
    for (const other of others) {
      if (!(other instanceof DataStream) || (other as DataStream<T>).recorder !== this.recorder) {
        throw definitionError("union() takes streams of the same job");
      }
    }
    const node = this.recorder.add({
      kind: "union",
      name: "union",
      inputs: [this.node, ...others.map((o) => o.node)],
    });
    return new DataStream<T>(
      this.recorder,
      node,
      this.eventTime && others.every((o) => o.eventTime),
    );
  }

  /** Not on an unkeyed stream (a compile error there): a reduce needs keys. Call keyBy(...) first. */
  reduce(_fn: never): DataStream<T> {
    throw definitionError(
      "reduce() needs a keyed stream: call keyBy(...) first, e.g. stream.keyBy((r) => r.id).reduce(...)",
    );
  }

  /** Ends the stream in a sink. */
  sink(sink: Sink<T>): DataStreamSink {
    if (!sink || typeof sink.createWriter !== "function")
      throw definitionError("sink() needs a sink, e.g. sinks.log()");
    const node = this.recorder.add({
      kind: "sink",
      name: `${sink.kind} sink`,
      input: this.node,
      sink: sink as Sink<unknown>,
      ...(sink.parallelism ? { parallelism: sink.parallelism } : {}),
    });
    return new DataStreamSink(node);
  }

  // ---- properties of the last node ----

  name(name: string): this {
    this.node.name = name;
    return this;
  }

  /** Pins this operator's id so its state maps across changes of the job (Flink's uid). */
  uid(uid: string): this {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(uid))
      throw definitionError(`uid ${JSON.stringify(uid)}: use 1-64 letters, digits, '-' or '_'`);
    this.node.uid = uid;
    return this;
  }

  setParallelism(parallelism: number): this {
    if (!Number.isInteger(parallelism) || parallelism < 1) {
      throw definitionError(
        `setParallelism(${parallelism}) on '${this.node.name}': need a whole number >= 1`,
      );
    }
    this.node.parallelism = parallelism;
    return this;
  }

  resources(resources: ResourceSpec): this {
    for (const [k, v] of Object.entries({
      cpu: resources.cpu,
      memoryMb: resources.memoryMb,
      ...resources.extended,
    })) {
      if (v !== undefined && !(typeof v === "number" && v >= 0)) {
        throw definitionError(
          `resources(): '${k}' must be a number >= 0, got ${JSON.stringify(v)}`,
        );
      }
    }
    this.node.resources = resources;
    return this;
  }

  slotSharingGroup(name: string): this {
    this.node.slotSharingGroup = name;
    return this;
  }
}

/** What `sink()` returns: the end of a pipeline, still configurable. */
export class DataStreamSink {
  readonly node: StreamNode;
  constructor(node: StreamNode) {
    this.node = node;
  }
  name(name: string): this {
    this.node.name = name;
    return this;
  }
  uid(uid: string): this {
    this.node.uid = uid;
    return this;
  }
  setParallelism(parallelism: number): this {
    if (!Number.isInteger(parallelism) || parallelism < 1)
      throw definitionError(`setParallelism(${parallelism}): need a whole number >= 1`);
    this.node.parallelism = parallelism;
    return this;
  }
}

/** A stream partitioned by key K: keyed state, timers, rolling reduce and windows. */
export class KeyedStream<T, K> extends DataStream<T> {
  readonly keySelector: (value: T) => K;

  constructor(
    recorder: GraphRecorder,
    node: StreamNode,
    eventTime: boolean,
    keySelector: (value: T) => K,
  ) {
    super(recorder, node, eventTime);
    this.keySelector = keySelector;
  }

  /** @internal for WindowedStream */
  windowed<R>(operator: string, factory: OperatorFactory): DataStream<R> {
    return this.keyed<R>(operator, factory);
  }

  protected keyed<R>(operator: string, factory: OperatorFactory): DataStream<R> {
    return this.operator<R>(operator, factory, {
      keySelector: this.keySelector as (value: unknown) => unknown,
    });
  }

  /** Per-key logic with state (value, list, map) and event- or processing-time timers. */
  process<R>(
    fn: KeyedProcessFunction<T, K, R> | KeyedProcessFunction<T, K, R>["processElement"],
  ): DataStream<R> {
    const spec = typeof fn === "function" ? { processElement: fn } : fn;
    checkFunction("process()", spec?.processElement);
    return this.keyed<R>("process", () => new KeyedProcessOperator(spec));
  }

  /** Rolling reduce: emits the key's new aggregate after each record. */
  override reduce(fn: (a: T, b: T) => T): DataStream<T> {
    checkFunction("reduce()", fn);
    return this.keyed<T>("reduce", () => new KeyedReduceOperator(fn));
  }

  /**
   * Groups each key's records into windows. Without an explicit `time`, windows use event time
   * when the stream's records carry timestamps, and processing time otherwise.
   */
  window(
    assigner: WindowAssigner,
    options: { allowedLatenessMs?: number } = {},
  ): WindowedStream<T, K> {
    if (!assigner || typeof assigner.assign !== "function") {
      throw definitionError("window() needs an assigner, e.g. windows.tumbling({ size: 1000 })");
    }
    return new WindowedStream<T, K>(this, resolveWindowTime(assigner, this.eventTime), options);
  }
}

/** An assigner whose time the user left open follows the stream. */
function resolveWindowTime(assigner: WindowAssigner, eventTime: boolean): WindowAssigner {
  if (assigner.explicitTime) return assigner;
  const time = eventTime ? "event" : "processing";
  return time === assigner.time
    ? assigner
    : {
        ...assigner,
        time,
        assign: assigner.assign.bind(assigner),
        describe: () => ({ ...assigner.describe(), time }),
      };
}

/** A keyed stream cut into windows; one of `reduce`, `aggregate` or `count` folds each window. */
export class WindowedStream<T, K> {
  readonly #keyed: KeyedStream<T, K>;
  readonly #assigner: WindowAssigner;
  readonly #allowedLatenessMs: number | undefined;

  constructor(
    keyed: KeyedStream<T, K>,
    assigner: WindowAssigner,
    { allowedLatenessMs }: { allowedLatenessMs?: number },
  ) {
    this.#keyed = keyed;
    this.#assigner = assigner;
    this.#allowedLatenessMs = allowedLatenessMs;
  }

  #fold<ACC, R>(aggregation: WindowAggregation<T, ACC, R>): DataStream<WindowResult<K, R>> {
    const factory = windowOperator<T, K, ACC, R>({
      assigner: this.#assigner,
      aggregation,
      ...(this.#allowedLatenessMs !== undefined
        ? { allowedLatenessMs: this.#allowedLatenessMs }
        : {}),
    });
    return this.#keyed.windowed<WindowResult<K, R>>(
      `window(${this.#assigner.kind})`,
      factory as OperatorFactory,
    );
  }

  /** Each window's records folded pairwise into one of the same type. */
  reduce(fn: (a: T, b: T) => T): DataStream<WindowResult<K, T>> {
    return this.#fold<T, T>({ kind: "reduce", reduce: fn });
  }

  /** Each window's records folded into an accumulator, then `result` of it. */
  aggregate<ACC, R>(aggregate: {
    create: () => ACC;
    add: (accumulator: ACC, value: T) => ACC;
    merge?: (a: ACC, b: ACC) => ACC;
    result: (accumulator: ACC) => R;
  }): DataStream<WindowResult<K, R>> {
    return this.#fold<ACC, R>({ kind: "aggregate", ...aggregate });
  }

  /** How many records each window got. */
  count(): DataStream<WindowResult<K, number>> {
    return this.#fold<number, number>({ kind: "count" });
  }
}

export type { Timestamp };
