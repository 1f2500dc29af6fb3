/**
 * What the sinks share: the checkpoint-staging shape the runtime hands back to `commit`, a
 * connection set up once in the background, and JSON payloads.
 */

/** The staged entries in checkpoint order, skipping checkpoints that staged nothing. */
export function inCheckpointOrder<S>(
  entries: ReadonlyArray<{ checkpointId: number; subtask?: number; staged: unknown }>,
): Array<{ checkpointId: number; subtask: number; staged: S }> {
  return entries
    .map((e) => ({ ...e, subtask: e.subtask ?? 0 }))
    .filter((e): e is { checkpointId: number; subtask: number; staged: S } => e.staged != null)
    .slice()
    .sort((a, b) => a.checkpointId - b.checkpointId);
}

/**
 * Async setup started when the writer is created. `drain()` hands out the promise until it has
 * settled, so a missing stream or bucket fails the task at once rather than at the first commit.
 */
export class Setup<T> {
  readonly #promise: Promise<T>;
  #settled = false;

  constructor(start: () => Promise<T>) {
    this.#promise = start();
    this.#promise.then(
      () => {
        this.#settled = true;
      },
      () => undefined, // surfaced through get() / pending(), never as an unhandled rejection
    );
  }

  get(): Promise<T> {
    return this.#promise;
  }

  /** The setup while it runs or when it failed; `undefined` once it succeeded. */
  pending(): Promise<void> | undefined {
    return this.#settled ? undefined : this.#promise.then(() => undefined);
  }
}

const encoder = new TextEncoder();

/** Bytes as they are, anything else as JSON (what the jetstream source decodes by default). */
export function toPayload(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  return encoder.encode(JSON.stringify(value) ?? "null");
}
