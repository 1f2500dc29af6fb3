/**
 * One task: one parallel instance of a chained vertex. It reads its input gate (or polls its
 * source), drives the chain, writes through the record writer, takes checkpoints at aligned
 * barriers, and reports its state. The same code runs in the local executor and on TaskManagers.
 */
import { cbor, ErrorCode, FlotillaError, toFlotillaError } from "../../core/mod.ts";
import type { JobVertex } from "../graph/job_graph.ts";
import { SinkOperator } from "../operators/sink.ts";
import { createKeyedBackend, type KeyedBackendWithTimers } from "../state/heap_backend.ts";
import { keyGroupRange } from "../state/key_groups.ts";
import { FrameKind, MAX_WATERMARK, type SourceReader, type Timestamp } from "../types.ts";
import { buildChain, type Chain, runtimeContext } from "./chain.ts";
import { CheckpointCompletions } from "./checkpoint_completions.ts";
import { InputGate } from "./input_gate.ts";
import { ProcessingTimer } from "./processing_timer.ts";
import { taskMetrics } from "./task_metrics.ts";
import { TaskTimes } from "./task_times.ts";
import { type TaskDeployment, type TaskSnapshot, TaskState } from "./task_types.ts";

// Deployers and the executors import a task's contract along with the task.
export {
  type TaskCheckpointing,
  type TaskDeployment,
  type TaskSnapshot,
  TaskState,
} from "./task_types.ts";

/** Lets timers and I/O run: a busy task loop resolves only microtasks and would starve them. */
const macrotask: (fn: () => void) => void =
  (globalThis as { setImmediate?: (fn: () => void) => void }).setImmediate ??
  ((fn) => setTimeout(fn, 0));
const YIELD_EVERY_MS = 5;

export class Task {
  readonly vertex: JobVertex;
  /** The job's name (its graph's), for the TaskManager's metric labels. */
  readonly jobName: string;
  readonly subtask: number;
  readonly #d: TaskDeployment;
  readonly #chain: Chain;
  readonly #backend: KeyedBackendWithTimers | undefined;
  #reader: SourceReader<unknown> | undefined;
  #gate: InputGate | undefined;
  #state: TaskState = TaskState.DEPLOYING;
  #triggers: { id: number; final: boolean }[] = [];
  #wakeSource: (() => void) | undefined;
  readonly #completions = new CheckpointCompletions();
  #asyncFailure: unknown;
  #canceled = false;
  readonly #processingTimer: ProcessingTimer | undefined;
  recordsIn = 0;
  #lastYield = Date.now();
  readonly #times = new TaskTimes();
  #inputWatermark: Timestamp | undefined;

  constructor(deployment: TaskDeployment) {
    this.#d = deployment;
    const vertex = deployment.graph.vertex(deployment.vertexId);
    this.vertex = vertex;
    this.jobName = deployment.graph.options.name;
    this.subtask = deployment.subtask;
    if (vertex.keySelector) {
      this.#backend = createKeyedBackend({
        keyGroups: keyGroupRange(deployment.subtask, vertex.parallelism, vertex.maxParallelism),
        maxParallelism: vertex.maxParallelism,
        ...(deployment.services.now ? { now: deployment.services.now } : {}),
      });
    }
    const ids = {
      jobId: deployment.jobId,
      subtask: deployment.subtask,
      attempt: deployment.attempt,
    };
    const keyed = this.#backend
      ? { backend: this.#backend, timers: this.#backend.timers }
      : undefined;
    this.#chain = buildChain(
      deployment.graph,
      vertex,
      ids,
      deployment.services,
      deployment.output,
      keyed,
    );
    const head = this.#chain.operators[0]?.operator;
    if (this.#backend && head?.onProcessingTime) {
      this.#processingTimer = new ProcessingTimer({
        backend: this.#backend,
        fire: (time, key) => head.onProcessingTime!(time, key),
        now: () => deployment.services.now?.() ?? Date.now(),
        canceled: () => this.#canceled,
      });
    }
  }

  get state(): TaskState {
    return this.#state;
  }

  /** Its counters (`task_metrics.ts`): records, bytes, credit waits, times, watermarks, operators'. */
  metrics(): Record<string, number> {
    return taskMetrics({
      recordsIn: this.recordsIn,
      output: this.#d.output,
      gate: this.#gate,
      times: this.#times,
      inputWatermark: this.#inputWatermark,
      counters: this.#chain.counters,
    });
  }

  #setState(state: TaskState, error?: FlotillaError): void {
    this.#state = state;
    this.#d.onStateChange?.(state, error);
  }

  /** Runs to the end; resolves with FINISHED or CANCELED, rejects with the failure. */
  async run(): Promise<TaskState> {
    try {
      await this.#open();
      this.#times.running();
      this.#setState(TaskState.RUNNING);
      if (this.vertex.source) await this.#runSource();
      else await this.#runInputs();
      await this.#d.output.close();
      await this.#closeOperators();
      this.#setState(TaskState.FINISHED);
      return TaskState.FINISHED;
    } catch (thrown) {
      // Canceled while it was failing (its teardown cancels downstream, whose report can bring
      // the cancel here first): still a failure, with its own cause.
      const canceled = this.#canceled;
      await this.#teardown();
      if (canceled && this.#asyncFailure === undefined) {
        this.#setState(TaskState.CANCELED);
        return TaskState.CANCELED;
      }
      const error = toFlotillaError(this.#asyncFailure ?? thrown);
      this.#setState(TaskState.FAILED, error);
      throw error;
    } finally {
      this.#processingTimer?.stop();
    }
  }

  /** Stops promptly: channels are canceled, the loops end, the task reports CANCELED. */
  async cancel(reason = "canceled"): Promise<void> {
    if (this.#canceled || this.#state === TaskState.FINISHED || this.#state === TaskState.FAILED)
      return;
    this.#canceled = true;
    this.#setState(TaskState.CANCELING);
    const canceled = new FlotillaError(ErrorCode.CANCELED, `task canceled: ${reason}`);
    this.#completions.abandon(canceled);
    this.#wakeSource?.();
    await Promise.all([this.#gate?.cancel(reason), this.#d.output.cancel(reason)]);
  }

  /** Source tasks: take checkpoint `id` before the next batch. */
  triggerCheckpoint(id: number, final = false): void {
    this.#triggers.push({ id, final });
    this.#wakeSource?.();
  }

  /**
   * Checkpoint `id` completed: sinks commit. Notifications run one after another, so a later
   * checkpoint never counts as done while an earlier one's commit is still under way.
   */
  notifyCheckpointComplete(id: number): Promise<void> {
    const commit = async () => {
      for (const { operator } of this.#chain.operators)
        await operator.notifyCheckpointComplete?.(id);
      await this.#reader?.notifyCheckpointComplete?.(id);
    };
    // A commit that fails fails the task (the restart commits the restored staged writes again).
    return this.#completions.complete(id, commit, (err) => this.#fail(err));
  }

  /** A failure outside the task loop (a commit): end the loop, and make run() reject with it. */
  #fail(err: unknown): void {
    this.#asyncFailure ??= err;
    this.#completions.abandon(err);
    this.#wakeSource?.();
    void this.#gate?.cancel("task failed");
    void this.#d.output.cancel("task failed");
  }

  #notified(id: number): Promise<void> {
    return this.#completions.completed(id, this.#asyncFailure);
  }

  async #open(): Promise<void> {
    const d = this.#d;
    const restored = d.restore ? await d.restore() : undefined;
    if (this.vertex.source) {
      const ctx = runtimeContext(
        d.graph,
        this.vertex,
        { jobId: d.jobId, operatorId: this.vertex.id, subtask: d.subtask, attempt: d.attempt },
        d.services,
        this.#chain.counters,
      );
      this.#reader = this.vertex.source.createReader(ctx);
      if (restored) await this.#reader.restore?.(restored.map((s) => s?.source));
    } else {
      this.#gate = new InputGate(d.inputs);
    }
    if (restored && this.#backend) {
      this.#backend.restore(restored.flatMap((s) => (s?.keyed ? [s.keyed] : [])));
    }
    // Open from the tail, so every operator's output is ready before it emits.
    for (let i = this.#chain.operators.length - 1; i >= 0; i--) {
      const { id, operator, context } = this.#chain.operators[i]!;
      if (restored && operator.restoreState) {
        const parallelism = this.vertex.parallelism;
        // Sinks take back the staged writes of the old subtasks that map to them (j mod p);
        // every other operator sees all instances' states and keeps what it owns (union).
        const states = restored.flatMap((s, j) =>
          s &&
          id in s.operators &&
          (!(operator instanceof SinkOperator) || j % parallelism === d.subtask)
            ? [s.operators[id]]
            : [],
        );
        await operator.restoreState(states);
      }
      await operator.open(context);
    }
    this.#processingTimer?.schedule();
  }

  async #settle(): Promise<void> {
    for (const { operator } of this.#chain.operators) {
      const pending = operator.drain?.();
      if (pending) await pending;
    }
    if (this.#d.output.hasPending()) await this.#times.timed(this.#d.output.pending(), true);
    const now = Date.now();
    if (now - this.#lastYield >= YIELD_EVERY_MS) {
      this.#lastYield = now;
      await new Promise<void>((resolve) => macrotask(resolve));
    }
  }

  #emit(values: unknown[], timestamps: (Timestamp | null)[] | undefined): void {
    const head = this.#chain.head;
    const backend = this.#backend;
    const selector = this.vertex.keySelector;
    this.recordsIn += values.length;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (backend) backend.setCurrentKey(selector!(value));
      const ts = timestamps ? (timestamps[i] ?? undefined) : undefined;
      head.collect(value, ts);
    }
    if (backend) this.#processingTimer?.schedule();
  }

  #watermark(watermark: Timestamp): void {
    this.#inputWatermark = watermark;
    const head = this.#chain.operators[0]?.operator;
    if (this.#backend && head?.onEventTime) {
      this.#backend.advanceWatermark(watermark, (time, key) => head.onEventTime!(time, key));
    }
    this.#chain.head.emitWatermark(watermark);
    this.#processingTimer?.schedule();
  }

  #checkpoint(id: number): void {
    const snapshot: TaskSnapshot = { operators: {} };
    if (this.#reader) snapshot.source = this.#reader.position();
    if (this.#backend) snapshot.keyed = this.#backend.snapshot();
    for (const { id: opId, operator } of this.#chain.operators) {
      const state = operator.snapshotState?.(id);
      if (state !== undefined) snapshot.operators[opId] = state;
    }
    // Encoded now, before another record is processed; stored while the task goes on.
    const bytes = cbor.encode(snapshot);
    const { checkpointing } = this.#d;
    checkpointing.store(id, bytes).then(
      (handle) => checkpointing.acknowledge(id, handle, bytes.byteLength),
      (err) => checkpointing.decline(id, `storing the snapshot failed: ${(err as Error).message}`),
    );
  }

  async #endOfData(): Promise<void> {
    for (const { operator } of this.#chain.operators) {
      await operator.endInput?.();
      await this.#settle();
    }
    this.#d.output.broadcast({ k: FrameKind.END_OF_DATA });
  }

  async #runSource(): Promise<void> {
    const reader = this.#reader!;
    const batchSize = this.#d.batchSize ?? 1000;
    for (;;) {
      this.#takeTriggers();
      if (this.#canceled || this.#asyncFailure !== undefined)
        throw new FlotillaError(ErrorCode.CANCELED, "task canceled");
      const batch = await this.#times.timed(reader.poll(batchSize), false);
      if (batch === null) break;
      if (batch.values.length) {
        this.#emit(batch.values, batch.timestamps);
        await this.#settle();
      }
    }
    this.#watermark(MAX_WATERMARK);
    await this.#endOfData();
    await this.#d.output.pending();
    if (this.#d.graph.options.checkpointing) {
      this.#d.checkpointing.sourceEnded();
      // Wait for the final checkpoint: it covers what endInput emitted; sinks commit on its completion.
      for (;;) {
        const final = this.#takeTriggers();
        if (final !== undefined) {
          await this.#notified(final);
          break;
        }
        if (this.#canceled || this.#asyncFailure !== undefined)
          throw new FlotillaError(ErrorCode.CANCELED, "task canceled");
        await new Promise<void>((resolve) => {
          this.#wakeSource = resolve;
        });
        this.#wakeSource = undefined;
      }
    }
    this.#d.output.broadcast({ k: FrameKind.END_OF_PARTITION });
  }

  /** Takes pending checkpoint triggers; returns the final checkpoint's id if one was taken. */
  #takeTriggers(): number | undefined {
    let final: number | undefined;
    while (this.#triggers.length) {
      const { id, final: isFinal } = this.#triggers.shift()!;
      this.#checkpoint(id);
      this.#d.output.broadcast({ k: FrameKind.BARRIER, id, ...(isFinal ? { final: true } : {}) });
      if (isFinal) final = id;
    }
    return final;
  }

  async #runInputs(): Promise<void> {
    const gate = this.#gate!;
    let finalCheckpoint: number | undefined;
    for (;;) {
      const event = await this.#times.timed(gate.next(), false);
      switch (event.kind) {
        case "records":
          this.#emit(event.values, event.timestamps);
          await this.#settle();
          break;
        case "watermark":
          this.#watermark(event.watermark);
          await this.#settle();
          break;
        case "barrier":
          this.#checkpoint(event.id);
          this.#d.output.broadcast({
            k: FrameKind.BARRIER,
            id: event.id,
            ...(event.final ? { final: true } : {}),
          });
          if (event.final) finalCheckpoint = event.id;
          break;
        case "end-of-data":
          await this.#endOfData();
          break;
        case "end":
          if (finalCheckpoint !== undefined) await this.#notified(finalCheckpoint);
          this.#d.output.broadcast({ k: FrameKind.END_OF_PARTITION });
          return;
      }
    }
  }

  async #closeOperators(): Promise<void> {
    for (const { operator } of this.#chain.operators) await operator.close?.();
    await this.#reader?.close?.();
  }

  async #teardown(): Promise<void> {
    await this.#d.output.cancel("task ended");
    await this.#gate?.cancel("task ended");
    for (const { operator } of this.#chain.operators) {
      try {
        await operator.close?.();
      } catch {
        // closing after a failure is best effort
      }
    }
    await Promise.resolve(this.#reader?.close?.()).catch(() => {});
  }
}
