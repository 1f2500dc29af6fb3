/**
 * The small key-value contract every HA record store and the lease election are written against,
 * so the JetStream KV bucket and the in-memory map behave the same: revisions, compare-and-set,
 * deletes, prefix listing and a watch on one key.
 */

/** A live value (deleted keys are reported as `undefined`, never as an entry). */
export interface KvRecord {
  key: string;
  value: Uint8Array;
  /** Bucket-wide sequence of this write: it only grows. */
  revision: number;
  /**
   * When the store wrote it (epoch ms, the store's clock), where the store says: JetStream does,
   * memory does not. Bounds what a lease in the value may claim.
   */
  writtenAt?: number;
}

/** What a watch reports: a write, or a delete (with the revision of the delete marker). */
export type KvChange =
  | { kind: "put"; record: KvRecord }
  | { kind: "delete"; key: string; revision: number };

export interface KvWatchOptions {
  /**
   * Told `true` each time the watch is established (changes from then on reach `onChange`) and
   * `false` when it lapsed (the store went away; it is started again when it is back).
   */
  onLive?(live: boolean): void;
}

export interface KvCallOptions {
  /** Deadline of this call, retries included. @default the store's timeout */
  timeoutMs?: number;
  /**
   * Retry after a timeout or a lost connection within the deadline. Only for calls whose repeat is
   * harmless. @default true
   */
  retry?: boolean;
}

/**
 * Errors: CONFLICT when a compare-and-set loses, PAYLOAD_TOO_LARGE for a value over the limit,
 * UNAVAILABLE when the store cannot be reached within the deadline.
 */
export interface HaKv {
  /** For people: "nats kv flotilla_<cluster>" or "memory". */
  readonly location: string;
  get(key: string, options?: KvCallOptions): Promise<KvRecord | undefined>;
  /** Writes whatever is there. Returns the new revision. */
  put(key: string, value: Uint8Array, options?: KvCallOptions): Promise<number>;
  /** Writes only if the key is absent or deleted; CONFLICT otherwise. */
  create(key: string, value: Uint8Array, options?: KvCallOptions): Promise<number>;
  /** Writes only if the key's latest revision is `revision`; CONFLICT otherwise. */
  update(
    key: string,
    value: Uint8Array,
    revision: number,
    options?: KvCallOptions,
  ): Promise<number>;
  /** Deletes; with `revision`, only if that is still the key's latest revision (CONFLICT otherwise). */
  delete(key: string, options?: KvCallOptions & { revision?: number }): Promise<void>;
  /**
   * Deletes and leaves nothing behind. A delete leaves a marker per key (JetStream keeps one for
   * every key ever deleted, and listings walk them): records with a key of their own (a
   * checkpoint, a job) are forgotten instead. Watches are not told: only for keys nobody watches.
   */
  forget(key: string, options?: KvCallOptions): Promise<void>;
  /** Every live key under `prefix` (the tokens before a "."). */
  keys(prefix: string, options?: KvCallOptions): Promise<string[]>;
  /**
   * Calls `onChange` for every later change of `key`, best effort: a watch can miss changes
   * while the store is unreachable, so callers re-read on their own schedule too.
   */
  watch(key: string, onChange: (change: KvChange) => void, options?: KvWatchOptions): () => void;
}
