/**
 * The contracts of the dataflow runtime: what an operator, a source and a sink implement, what
 * keyed state and timers offer them, and what flows between tasks. The user API (api/*.ts) builds
 * a graph of operator factories against these; the task runtime (runtime/*.ts) drives them.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../core/mod.ts";

/** Event time in epoch milliseconds. Records without one carry `undefined`. */
export type Timestamp = number;
export const MIN_WATERMARK = Number.NEGATIVE_INFINITY;
/** Sent at the end of input: fires every event-time timer and window. */
export const MAX_WATERMARK = Number.POSITIVE_INFINITY;

/** Where an operator's results go: the next operator of its chain, or the task's outputs. */
export interface Output<T> {
  collect(value: T, timestamp?: Timestamp): void;
  emitWatermark(watermark: Timestamp): void;
}

/** What every operator and function sees of where it runs. */
export interface RuntimeContext {
  readonly jobId: string;
  readonly jobName: string;
  readonly vertexId: string;
  readonly operatorId: string;
  /** 0-based index of this parallel instance. */
  readonly subtask: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  /** 0 on the first run, +1 on every restart. */
  readonly attempt: number;
  readonly log: Logger;
  /** Job arguments (`--arg key=value`). */
  arg(name: string): string | undefined;
  /** The current processing time (wall clock, ms). */
  now(): number;
  /** A named counter of this instance, reported with the job's status (records in/out, late drops). */
  counter(name: string): Counter;
  /**
   * A NATS connection shared by this task's sources and sinks; `servers` defaults to the
   * cluster's own (`nats.url`). The runtime closes it when the task ends.
   */
  connectNats(servers?: string): Promise<NatsConnection>;
  /**
   * Hands committed results of a `collect` sink to whoever runs the job (the client). A batch id
   * seen before is ignored, which makes a commit repeated after a restore harmless.
   */
  publishResults(sinkId: string, values: unknown[], batchId?: string): Promise<void>;
}

export interface Counter {
  inc(n?: number): void;
  get(): number;
}

// ---- keyed state ----------------------------------------------------------------------------

export interface ValueState<T> {
  get(): T | undefined;
  set(value: T): void;
  clear(): void;
}

export interface ListState<T> {
  get(): readonly T[];
  add(value: T): void;
  update(values: T[]): void;
  clear(): void;
}

export interface MapState<K, V> {
  get(key: K): V | undefined;
  set(key: K, value: V): void;
  has(key: K): boolean;
  delete(key: K): void;
  entries(): [K, V][];
  clear(): void;
}

/** State scoped to the key of the record (or timer) being processed. */
export interface KeyedStateStore {
  value<T>(name: string): ValueState<T>;
  list<T>(name: string): ListState<T>;
  map<K, V>(name: string): MapState<K, V>;
}

/** Timers scoped to the current key; they survive checkpoints and restores. */
export interface TimerService {
  currentWatermark(): Timestamp;
  currentProcessingTime(): number;
  registerEventTimeTimer(time: Timestamp): void;
  deleteEventTimeTimer(time: Timestamp): void;
  registerProcessingTimeTimer(time: number): void;
  deleteProcessingTimeTimer(time: number): void;
}

/**
 * Keyed state of one operator instance, organised by key group so it can be split across any
 * parallelism on restore. The runtime sets the current key before each record and timer.
 */
export interface KeyedBackend extends KeyedStateStore {
  setCurrentKey(key: unknown): void;
  currentKey(): unknown;
  /** Key groups [start, end] this instance owns. */
  readonly keyGroups: { start: number; end: number };
  snapshot(): KeyedSnapshot;
  /** Restores the entries of owned key groups from any number of snapshots (rescaling). */
  restore(snapshots: KeyedSnapshot[]): void;
}

/** Keyed state and timers by key group: `{ [keyGroup]: opaque }`, CBOR-encodable. */
export type KeyedSnapshot = Record<number, unknown>;

// ---- operators ------------------------------------------------------------------------------

export interface OperatorContext<OUT> extends RuntimeContext {
  readonly output: Output<OUT>;
  /** Present for operators downstream of `keyBy`. */
  readonly keyed?: KeyedBackend;
  /** Present for keyed operators: timers call back `onEventTime` / `onProcessingTime`. */
  readonly timers?: TimerService;
}

/**
 * A stream operator, driven by one task thread-of-control. `processElement` is synchronous (the
 * hot path); asynchronous work (a sink's writes) is started there and awaited through `drain()`,
 * which the task calls between batches, so slow I/O is backpressure, never unbounded buffering.
 */
export interface StreamOperator<IN = unknown, OUT = unknown> {
  open(ctx: OperatorContext<OUT>): void | Promise<void>;
  processElement(value: IN, timestamp: Timestamp | undefined): void;
  /** Called with a watermark that advanced; fire due event-time work, then forward it. */
  processWatermark(watermark: Timestamp): void;
  /** Keyed operators: a timer fired for `key` (the runtime set the current key). */
  onEventTime?(time: Timestamp, key: unknown): void;
  onProcessingTime?(time: number, key: unknown): void;
  /** Pending asynchronous work; resolves when it is done. */
  drain?(): Promise<void> | undefined;
  /** Non-keyed state of this instance at a checkpoint barrier; CBOR-encodable. */
  snapshotState?(checkpointId: number): unknown;
  /** All instances' non-keyed states of the restored checkpoint (union redistribution). */
  restoreState?(states: unknown[]): void | Promise<void>;
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
  /** Every input has ended: emit what is still held (open windows, buffers). */
  endInput?(): void | Promise<void>;
  close?(): void | Promise<void>;
}

export type OperatorFactory<IN = unknown, OUT = unknown> = () => StreamOperator<IN, OUT>;

// ---- sources and sinks ----------------------------------------------------------------------

export interface SourceBatch<T> {
  values: T[];
  /** Event timestamps, index-aligned with `values`, when the source knows them. */
  timestamps?: Timestamp[];
}

/** One parallel reader of a source. Positions make it replayable from a checkpoint. */
export interface SourceReader<T> {
  /** Restore from all readers' positions of the checkpoint (pick the part this reader owns). */
  restore?(positions: unknown[]): void | Promise<void>;
  /** Up to `max` records; `null` when a bounded source is exhausted; empty when none right now. */
  poll(max: number): Promise<SourceBatch<T> | null>;
  /** Where to resume after everything polled so far; CBOR-encodable. */
  position(): unknown;
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
  close?(): void | Promise<void>;
}

export interface Source<T> {
  readonly kind: string;
  /** A fixed parallelism (e.g. a single file): overrides the job's. */
  readonly parallelism?: number;
  /** True when the source ends by itself (a file, a collection). */
  readonly bounded: boolean;
  createReader(ctx: RuntimeContext): SourceReader<T>;
  /** JSON description for the plan. */
  describe(): Record<string, unknown>;
}

/**
 * One parallel writer of a sink. Exactly-once sinks stage what they receive between checkpoints
 * (`prepareCommit` at the barrier returns what to commit) and commit once the checkpoint is
 * complete; a restore commits again whatever the restored checkpoint staged, idempotently.
 */
export interface SinkWriter<T> {
  write(value: T, timestamp: Timestamp | undefined): void;
  /** Pending asynchronous writes. */
  drain?(): Promise<void> | undefined;
  /** At a barrier: what was staged since the last one, to be stored in the checkpoint. */
  prepareCommit?(checkpointId: number): unknown;
  /** The checkpoint holding these staged writes completed: make them visible. */
  commit?(
    staged: Array<{ checkpointId: number; subtask?: number; staged: unknown }>,
  ): Promise<void>;
  /** Non-checkpointed runs: everything written is final at end of input. */
  finish?(): Promise<void>;
  close?(): void | Promise<void>;
}

export interface Sink<T> {
  readonly kind: string;
  readonly parallelism?: number;
  createWriter(ctx: RuntimeContext): SinkWriter<T>;
  describe(): Record<string, unknown>;
}

// ---- what flows on channels between tasks -------------------------------------------------

/**
 * Frames between tasks, in order on each channel. At the end of a bounded input a channel carries
 * END_OF_DATA (operators flush), then the final checkpoint's barrier, then END_OF_PARTITION, so
 * what is emitted at the end is still covered by a checkpoint (Flink's FLIP-147).
 */
export const FrameKind = {
  RECORDS: 0,
  WATERMARK: 1,
  BARRIER: 2,
  END_OF_DATA: 3,
  END_OF_PARTITION: 4,
} as const;

export type Frame =
  | { k: 0; v: unknown[]; t?: (Timestamp | null)[] }
  | { k: 1; wm: Timestamp }
  | { k: 2; id: number; final?: boolean }
  | { k: 3 }
  | { k: 4 };
