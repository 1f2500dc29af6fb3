/**
 * A subtask that runs in a job process, as the TaskManager sees it: the same surface as the
 * dataflow runtime's Task (state, counters, run, cancel, checkpoint triggers and completions),
 * carried out by messages to the process, with what the process reports passed on to the
 * subtask's JobManager (`SubtaskReports`).
 */
import { ErrorCode, FlotillaError, isTaskEnd, TaskState } from "../../core/mod.ts";
import type { SubtaskReports } from "../task_start.ts";
import type { Peer } from "./wire.ts";

export class RemoteTask {
  readonly id: number;
  readonly vertex: { readonly source?: unknown };
  readonly reports: SubtaskReports;
  readonly #peer: Peer;
  #state: TaskState = TaskState.DEPLOYING;
  #metrics: Record<string, number> = {};
  #ended!: (state: TaskState) => void;
  readonly #whenEnded = new Promise<TaskState>((resolve) => {
    this.#ended = resolve;
  });
  #over = false;

  constructor(id: number, source: boolean, peer: Peer, reports: SubtaskReports) {
    this.id = id;
    this.vertex = source ? { source: true } : {};
    this.#peer = peer;
    this.reports = reports;
  }

  get state(): TaskState {
    return this.#state;
  }

  /** Its counters, as the process last reported them. */
  metrics(): Record<string, number> {
    return { ...this.#metrics };
  }

  run(): Promise<TaskState> {
    this.#peer.send({ t: "run", id: this.id });
    return this.#whenEnded;
  }

  async cancel(reason = "canceled"): Promise<void> {
    if (this.#over) return;
    await this.#peer.call({ t: "cancel", id: this.id, reason }).catch(() => {});
  }

  triggerCheckpoint(id: number, final = false): void {
    this.#peer.send({ t: "trigger", id: this.id, checkpointId: id, final });
  }

  async notifyCheckpointComplete(id: number): Promise<void> {
    if (this.#over) return;
    // A process that is gone failed its subtasks already: nothing is left to tell.
    await this.#peer.call({ t: "complete", id: this.id, checkpointId: id }).catch((err) => {
      if (!this.#peer.closed) throw err;
    });
  }

  // ---- what the process reports ----

  stateChanged(
    state: TaskState,
    error?: { code: string; message: string },
    metrics?: Record<string, number>,
  ): void {
    if (this.#over) return;
    this.#state = state;
    if (metrics) this.#metrics = metrics;
    this.reports.stateChanged(state, error, metrics);
  }

  countersReported(metrics: Record<string, number>): void {
    this.#metrics = metrics;
  }

  ended(): void {
    this.#over = true;
    this.#ended(this.#state);
  }

  /** The process is gone: a subtask still running there failed, saying why. */
  lost(why: string): void {
    if (this.#over) return;
    if (!isTaskEnd(this.#state)) {
      const error = new FlotillaError(ErrorCode.INTERNAL, why);
      this.stateChanged(TaskState.FAILED, { code: error.code, message: error.message });
    }
    this.ended();
  }
}
