/**
 * Savepoints and stops as Flink's asynchronous operations: a trigger answers a request id at once,
 * the operation runs on, and its outcome is kept for `rest.async.store-duration` after it
 * completes. Bounded by count too: a flood of triggers cannot grow the Dispatcher.
 */
import { type Clock, ErrorCode, FlotillaError, systemClock, toFlotillaError } from "../core/mod.ts";
import type { AsynchronousOperationResult, SavepointInfo } from "../protocol/mod.ts";

export interface AsyncOperationsOptions {
  /** How long a completed operation's outcome is kept (`rest.async.store-duration`). @default 300000 */
  storeDurationMs?: number;
  /** Operations kept at once, running or completed; past it the oldest completed goes. @default 1000 */
  maxOperations?: number;
  clock?: Clock;
}

interface Operation {
  readonly jobId: string;
  readonly triggerId: string;
  outcome?: SavepointInfo;
  completedAt?: number;
}

function randomTriggerId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Flink's SerializedThrowable from a flotilla error: no Java object, so the text is serialized. */
function failureCause(err: unknown): SavepointInfo {
  const error = toFlotillaError(err);
  const text = `${error.code}: ${error.message}`;
  return {
    "failure-cause": {
      class: "FlotillaError",
      "stack-trace": text,
      "serialized-throwable": Buffer.from(text).toString("base64"),
    },
  };
}

export class AsyncOperations {
  readonly storeDurationMs: number;
  readonly maxOperations: number;
  readonly #clock: Clock;
  /** By `<jobId>/<triggerId>`, oldest first. */
  readonly #operations = new Map<string, Operation>();

  constructor({
    storeDurationMs = 300_000,
    maxOperations = 1000,
    clock = systemClock,
  }: AsyncOperationsOptions = {}) {
    this.storeDurationMs = storeDurationMs;
    this.maxOperations = maxOperations;
    this.#clock = clock;
  }

  /** Whether this trigger id was used for the job (a retry answers the same operation). */
  has(jobId: string, triggerId: string): boolean {
    this.#expire();
    return this.#operations.has(`${jobId}/${triggerId}`);
  }

  /**
   * Starts `run` (resolving with the savepoint's location) under `triggerId` (a new one when not
   * given) and answers the id. A trigger id already used for this job starts nothing: the retry
   * gets the same operation. 429 when `maxOperations` run at once.
   */
  trigger(jobId: string, triggerId: string | undefined, run: () => Promise<string>): string {
    this.#expire();
    const id = triggerId ?? randomTriggerId();
    const key = `${jobId}/${id}`;
    if (this.#operations.has(key)) return id;
    if (this.#operations.size >= this.maxOperations && !this.#dropOldestCompleted())
      throw new FlotillaError(
        ErrorCode.TOO_MANY_REQUESTS,
        `${this.#operations.size} savepoints and stops are in progress, the most this Dispatcher keeps: trigger again when one completes`,
      );
    const operation: Operation = { jobId, triggerId: id };
    this.#operations.set(key, operation);
    const settle = (outcome: SavepointInfo) => {
      operation.outcome = outcome;
      operation.completedAt = this.#clock.now();
    };
    // Started after the trigger is registered, so a retry meanwhile finds it.
    void Promise.resolve()
      .then(run)
      .then(
        (location) => settle({ location }),
        (err: unknown) => settle(failureCause(err)),
      );
    return id;
  }

  /** Flink's AsynchronousOperationResult; 404 for an id this Dispatcher does not keep. */
  status(jobId: string, triggerId: string): AsynchronousOperationResult {
    this.#expire();
    const operation = this.#operations.get(`${jobId}/${triggerId}`);
    if (!operation)
      throw new FlotillaError(
        ErrorCode.NOT_FOUND,
        `no savepoint or stop ${triggerId} for job ${jobId}: the id is the request-id its trigger answered, kept ${this.storeDurationMs} ms after it completes (rest.async.store-duration)`,
      );
    return operation.outcome
      ? { status: { id: "COMPLETED" }, operation: operation.outcome }
      : { status: { id: "IN_PROGRESS" } };
  }

  get size(): number {
    return this.#operations.size;
  }

  #expire(): void {
    const deadline = this.#clock.now() - this.storeDurationMs;
    for (const [key, operation] of this.#operations)
      if (operation.completedAt !== undefined && operation.completedAt <= deadline)
        this.#operations.delete(key);
  }

  #dropOldestCompleted(): boolean {
    for (const [key, operation] of this.#operations)
      if (operation.completedAt !== undefined) {
        this.#operations.delete(key);
        return true;
      }
    return false;
  }
}
