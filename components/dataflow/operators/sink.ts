/**
 * The operator at the end of a chain that hands records to a sink's writer and runs its commit
 * protocol: stage at each barrier, commit when the checkpoint completes, commit again what a
 * restored checkpoint staged, and finish at end of input when no checkpoints are taken.
 */
import type { OperatorContext, Sink, SinkWriter, StreamOperator, Timestamp } from "../types.ts";

interface Staged {
  checkpointId: number;
  /** The subtask that staged it (restores may hand it to another one). */
  subtask: number;
  staged: unknown;
}

export class SinkOperator<T> implements StreamOperator<T, never> {
  readonly #sink: Sink<T>;
  readonly #checkpointing: boolean;
  #writer!: SinkWriter<T>;
  #subtask = 0;
  /** Staged at barriers whose checkpoints have not completed yet, oldest first. */
  #pending: Staged[] = [];
  /** Restored staged writes, committed once the writer is open. */
  #restored: Staged[] = [];

  constructor(sink: Sink<T>, { checkpointing }: { checkpointing: boolean }) {
    this.#sink = sink;
    this.#checkpointing = checkpointing;
  }

  async open(ctx: OperatorContext<never>): Promise<void> {
    this.#subtask = ctx.subtask;
    this.#writer = this.#sink.createWriter(ctx);
    if (this.#restored.length && this.#writer.commit) await this.#writer.commit(this.#restored);
    this.#restored = [];
  }

  processElement(value: T, timestamp: Timestamp | undefined): void {
    this.#writer.write(value, timestamp);
  }

  processWatermark(): void {}

  drain(): Promise<void> | undefined {
    return this.#writer.drain?.();
  }

  snapshotState(checkpointId: number): unknown {
    if (!this.#writer.prepareCommit) return undefined;
    const staged = {
      checkpointId,
      subtask: this.#subtask,
      staged: this.#writer.prepareCommit(checkpointId),
    };
    this.#pending.push(staged);
    // Everything not yet committed belongs in this checkpoint: a restore commits it again.
    return this.#pending.slice();
  }

  restoreState(states: unknown[]): void {
    // The runtime hands each new subtask the staged writes of the old subtasks j with j mod p = i.
    this.#restored = states.flatMap((s) => (Array.isArray(s) ? (s as Staged[]) : []));
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    const done = this.#pending.filter((p) => p.checkpointId <= checkpointId);
    if (done.length === 0) return;
    this.#pending = this.#pending.filter((p) => p.checkpointId > checkpointId);
    await this.#writer.commit?.(done);
  }

  async endInput(): Promise<void> {
    await this.#writer.drain?.();
    if (!this.#checkpointing) await this.#writer.finish?.();
  }

  async close(): Promise<void> {
    await this.#writer?.close?.();
  }
}
