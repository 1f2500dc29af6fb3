/**
 * The checkpoint coordinator: triggers checkpoints at the sources every interval (one at a time),
 * collects every task's acknowledgement, then records the completed checkpoint and notifies all
 * tasks (sinks commit then). When every source has ended it takes the final checkpoint. Savepoints
 * are checkpoints written under `savepoints/` that outlive the job.
 */
import {
  ErrorCode,
  FlotillaError,
  type Logger,
  SNAPSHOT_METADATA,
  snapshotKey,
  snapshotPrefix,
} from "../../core/mod.ts";
import type { JobTopology } from "../graph/topology.ts";
import type { CompletedCheckpoint, SnapshotStore } from "./snapshot_store.ts";
import type { TaskCheckpointing } from "./task.ts";

export interface CoordinatorOptions {
  jobId: string;
  graph: JobTopology;
  store: SnapshotStore;
  log: Logger;
  /** A checkpoint (or savepoint) to count ids from. */
  restoredFrom?: CompletedCheckpoint;
  /** Completed checkpoints to keep. @default 2 */
  retained?: number;
  /** Called with each completed checkpoint before tasks are told (the JobManager persists it in HA). */
  onCompleted?(checkpoint: CompletedCheckpoint): Promise<void>;
  /** Told of every checkpoint's progress (the JobManager's statistics); times are epoch ms. */
  stats?: CheckpointStatsListener;
}

/** What happens to each checkpoint, as the JobManager's checkpoint statistics record it. */
export interface CheckpointStatsListener {
  /** `vertices`: each vertex's parallelism, the subtasks that must acknowledge. */
  triggered(
    id: number,
    at: number,
    kind: { savepoint: boolean; vertices: { id: string; parallelism: number }[] },
  ): void;
  acknowledged(id: number, vertexId: string, subtask: number, at: number, bytes: number): void;
  completed(id: number, at: number, path: string): void;
  failed(id: number, at: number, reason: string): void;
  /** A completed checkpoint was subsumed: its files are deleted. */
  discarded(id: number): void;
}

/** How the coordinator reaches the tasks of the running attempt. */
export interface AttemptHandlers {
  /** Asks every source task to take checkpoint `id`. */
  trigger(id: number, final: boolean): void;
  /** Tells every task that checkpoint `id` completed. */
  notify(id: number): Promise<void>;
  /**
   * Fails the attempt, so the job restarts from the latest completed checkpoint: more
   * checkpoints in a row than `checkpointing.tolerableFailures` expired (a task is stuck).
   */
  fail?(reason: string): void;
}

interface Pending {
  id: number;
  savepoint: boolean;
  final: boolean;
  started: number;
  handles: Map<string, string>;
  timer: ReturnType<typeof setTimeout>;
  done?: { resolve: (cp: CompletedCheckpoint) => void; reject: (err: Error) => void };
}

export class CheckpointCoordinator {
  readonly #o: CoordinatorOptions;
  #graph: JobTopology;
  #expected: string[] = [];
  #sources = 0;
  #nextId: number;
  #pending: Pending | undefined;
  #latest: CompletedCheckpoint | undefined;
  #retained: CompletedCheckpoint[] = [];
  #endedSources = new Set<string>();
  #finalTriggered = false;
  #interval: ReturnType<typeof setInterval> | undefined;
  #attempt: AttemptHandlers | undefined;
  completed = 0;

  constructor(options: CoordinatorOptions) {
    this.#o = options;
    this.#nextId = (options.restoredFrom?.checkpointId ?? 0) + 1;
    this.#latest = options.restoredFrom;
    this.#graph = options.graph;
    this.rebind(options.graph);
  }

  /**
   * The job runs at another parallelism from the next attempt on (the adaptive scheduler): the
   * tasks to expect change; ids, the latest checkpoint and the retained ones carry over.
   */
  rebind(graph: JobTopology): void {
    if (this.#attempt)
      throw new FlotillaError(ErrorCode.CONFLICT, "rebind while an attempt is attached");
    this.#graph = graph;
    this.#expected = graph.vertices.flatMap((v) =>
      Array.from({ length: v.parallelism }, (_, i) => `${v.id}/${i}`),
    );
    this.#sources = graph.vertices.filter((v) => v.source).reduce((n, v) => n + v.parallelism, 0);
  }

  get nextId(): number {
    return this.#nextId;
  }

  get latest(): CompletedCheckpoint | undefined {
    return this.#latest;
  }

  /** Every source ended and the final checkpoint is under way: the attempt is finishing. */
  get finishing(): boolean {
    return this.#finalTriggered;
  }

  /** A new attempt's tasks are deployed: checkpoint them periodically. */
  attach(handlers: AttemptHandlers): void {
    this.#attempt = handlers;
    this.#expiredInARow = 0;
    this.#endedSources.clear();
    this.#finalTriggered = false;
    const cp = this.#graph.options.checkpointing;
    if (!cp) return;
    this.#interval = setInterval(() => {
      if (!this.#pending && !this.#finalTriggered) this.#trigger(false, false);
    }, cp.intervalMs);
  }

  /** The attempt ended (finished, failed or canceled): stop triggering, abort what is pending. */
  /** The attempt is over (or the job leaves this JobManager): a pending checkpoint is aborted. */
  detach(reason = "the job attempt ended"): void {
    this.#attempt = undefined;
    if (this.#interval) clearInterval(this.#interval);
    this.#interval = undefined;
    if (this.#pending) this.#abort(this.#pending, reason);
    const after = this.#afterPending;
    this.#afterPending = undefined;
    after?.();
  }

  /** A savepoint: a checkpoint kept under `savepoints/`; resolves once complete. */
  triggerSavepoint(): Promise<CompletedCheckpoint> {
    return this.#requested(true);
  }

  /** A checkpoint now (after the pending one, if any); resolves once complete and notified. */
  triggerCheckpoint(): Promise<CompletedCheckpoint> {
    return this.#requested(false);
  }

  #requested(savepoint: boolean): Promise<CompletedCheckpoint> {
    if (!this.#attempt)
      return Promise.reject(new FlotillaError(ErrorCode.CONFLICT, "the job is not running"));
    if (this.#finalTriggered) {
      return Promise.reject(
        new FlotillaError(ErrorCode.CONFLICT, "the job's input has ended: it is finishing"),
      );
    }
    return new Promise((resolve, reject) => {
      const start = () => {
        if (!this.#attempt)
          return reject(new FlotillaError(ErrorCode.CONFLICT, "the job is not running"));
        const pending = this.#trigger(savepoint, false);
        pending.done = { resolve, reject };
      };
      if (!this.#pending) start();
      else this.#afterPending = start;
    });
  }

  #afterPending: (() => void) | undefined;
  /** Checkpoints of this attempt that expired since the last one completed. */
  #expiredInARow = 0;

  #trigger(savepoint: boolean, final: boolean): Pending {
    const id = this.#nextId++;
    const timeoutMs = this.#graph.options.checkpointing?.timeoutMs ?? 60_000;
    const pending: Pending = {
      id,
      savepoint,
      final,
      started: Date.now(),
      handles: new Map(),
      timer: setTimeout(() => this.#expire(pending, timeoutMs), timeoutMs),
    };
    this.#pending = pending;
    const vertices = this.#graph.vertices.map((v) => ({ id: v.id, parallelism: v.parallelism }));
    this.#o.stats?.triggered(id, pending.started, { savepoint, vertices });
    this.#attempt?.trigger(id, final);
    return pending;
  }

  /**
   * A checkpoint that did not complete in time is aborted; past the tolerable number in a row
   * the attempt fails (Flink's tolerable-failed-checkpoints): a stall (a task stuck, a barrier
   * or end-of-data lost) then costs a restart from the latest checkpoint, not the job.
   */
  #expire(pending: Pending, timeoutMs: number): void {
    if (this.#pending !== pending) return;
    this.#abort(pending, `not complete after ${timeoutMs} ms`);
    const tolerable = this.#graph.options.checkpointing?.tolerableFailures ?? 3;
    if (++this.#expiredInARow <= tolerable) return;
    const expired = this.#expiredInARow;
    this.#expiredInARow = 0;
    this.#attempt?.fail?.(
      `${expired} checkpoints in a row did not complete within ${timeoutMs} ms (checkpointing.tolerableFailures: ${tolerable}): a task is stuck, restarting from the latest checkpoint`,
    );
  }

  #abort(pending: Pending, reason: string): void {
    clearTimeout(pending.timer);
    if (this.#pending !== pending) return;
    this.#pending = undefined;
    this.#o.log.warn({ checkpoint: pending.id, reason }, "checkpoint aborted");
    this.#o.stats?.failed(pending.id, Date.now(), reason);
    pending.done?.reject(
      new FlotillaError(ErrorCode.TIMEOUT, `checkpoint ${pending.id} aborted: ${reason}`),
    );
    if (pending.final) this.#finalTriggered = false;
    this.#next();
  }

  #next(): void {
    const after = this.#afterPending;
    this.#afterPending = undefined;
    if (after) after();
    else this.#maybeFinal();
  }

  #maybeFinal(): void {
    if (!this.#attempt || this.#pending || this.#finalTriggered) return;
    if (this.#sources > 0 && this.#endedSources.size >= this.#sources) {
      this.#finalTriggered = true;
      this.#trigger(false, true);
    }
  }

  /** Aborts checkpoint `id` if it is the pending one (a trigger that could not be delivered). */
  abort(id: number, reason: string): void {
    if (this.#pending?.id === id) this.#abort(this.#pending, reason);
  }

  /** The callbacks one task uses. */
  forTask(vertexId: string, subtask: number): TaskCheckpointing {
    const key = `${vertexId}/${subtask}`;
    return {
      store: async (id, bytes) => {
        const handle = snapshotKey(this.#o.jobId, id, vertexId, subtask);
        await this.#o.store.put(handle, bytes);
        return handle;
      },
      acknowledge: (id, handle, bytes) => {
        if (this.#pending?.id === id && !this.#pending.handles.has(key))
          this.#o.stats?.acknowledged(id, vertexId, subtask, Date.now(), bytes);
        this.#acknowledge(key, id, handle);
      },
      decline: (id, reason) => {
        if (this.#pending?.id === id) this.#abort(this.#pending, `${key} declined: ${reason}`);
      },
      sourceEnded: () => {
        this.#endedSources.add(key);
        this.#maybeFinal();
      },
    };
  }

  #acknowledge(key: string, id: number, handle: string): void {
    const pending = this.#pending;
    if (!pending || pending.id !== id) return;
    pending.handles.set(key, handle);
    if (pending.handles.size < this.#expected.length) return;
    void this.#complete(pending).catch((err) =>
      this.#abort(pending, `completing failed: ${(err as Error).message}`),
    );
  }

  async #complete(pending: Pending): Promise<void> {
    const { jobId, store } = this.#o;
    const graph = this.#graph;
    const checkpoint: CompletedCheckpoint = {
      jobId,
      jobName: graph.options.name,
      checkpointId: pending.id,
      timestamp: Date.now(),
      savepoint: pending.savepoint,
      vertices: Object.fromEntries(
        graph.vertices.map((v) => [
          v.id,
          {
            parallelism: v.parallelism,
            maxParallelism: v.maxParallelism,
            handles: Array.from(
              { length: v.parallelism },
              (_, i) => pending.handles.get(`${v.id}/${i}`)!,
            ),
          },
        ]),
      ),
    };
    const prefix = snapshotPrefix(jobId, pending.id, pending.savepoint);
    await store.put(
      `${prefix}/${SNAPSHOT_METADATA}`,
      new TextEncoder().encode(JSON.stringify(checkpoint)),
    );
    if (this.#pending !== pending) return; // aborted meanwhile
    clearTimeout(pending.timer);
    this.#pending = undefined;
    this.#expiredInARow = 0;
    this.completed++;
    this.#latest = checkpoint;
    this.#o.stats?.completed(pending.id, checkpoint.timestamp, prefix);
    await this.#o.onCompleted?.(checkpoint);
    if (!pending.savepoint) await this.#retain(checkpoint);
    this.#o.log.info(
      { checkpoint: pending.id, savepoint: pending.savepoint, ms: Date.now() - pending.started },
      "checkpoint complete",
    );
    await this.#attempt?.notify(pending.id);
    pending.done?.resolve(checkpoint);
    this.#next();
  }

  async #retain(checkpoint: CompletedCheckpoint): Promise<void> {
    this.#retained.push(checkpoint);
    const retained = this.#o.retained ?? 2;
    while (this.#retained.length > retained) {
      const old = this.#retained.shift()!;
      this.#o.stats?.discarded(old.checkpointId);
      const prefix = snapshotPrefix(old.jobId, old.checkpointId, false);
      // Its own handles by key where the store can (an object store lists everything for a
      // prefix, on every checkpoint); anything else under its prefix by prefix.
      const handles = Object.values(old.vertices).flatMap((v) => v.handles);
      const own = handles.every((h) => h.startsWith(`${prefix}/`));
      const keys = [...handles, `${prefix}/${SNAPSHOT_METADATA}`];
      if (this.#o.store.deleteKeys && own) await this.#o.store.deleteKeys(keys);
      else await this.#o.store.deletePrefix(prefix);
    }
  }
}
