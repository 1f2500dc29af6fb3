/**
 * The in-memory `HaKv` behind the embedded MiniCluster's election and stores: one revision
 * counter per map, compare-and-set like JetStream KV, and the same value size limit as a default
 * nats-server so what works embedded also fits a real cluster.
 */
import { ErrorCode, FlotillaError } from "../core/mod.ts";
import type { HaKv, KvChange, KvRecord, KvWatchOptions } from "./kv.ts";

export interface MemoryKvOptions {
  /** Largest value accepted. @default 1 MiB, nats-server's default max_payload */
  maxValueBytes?: number;
}

interface Slot {
  value: Uint8Array | undefined;
  revision: number;
}

export class MemoryKv implements HaKv {
  readonly location = "memory";
  readonly #slots = new Map<string, Slot>();
  readonly #watchers = new Map<string, Set<(change: KvChange) => void>>();
  readonly #maxValueBytes: number;
  #revision = 0;

  constructor({ maxValueBytes = 1024 * 1024 }: MemoryKvOptions = {}) {
    this.#maxValueBytes = maxValueBytes;
  }

  async get(key: string): Promise<KvRecord | undefined> {
    const slot = this.#slots.get(key);
    if (!slot?.value) return undefined;
    return { key, value: slot.value.slice(), revision: slot.revision };
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    return this.#write(key, value);
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    const slot = this.#slots.get(key);
    if (slot?.value) throw conflict(key, "exists");
    return this.#write(key, value);
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    const latest = this.#slots.get(key)?.revision ?? 0;
    if (latest !== revision) throw conflict(key, `is at revision ${latest}, not ${revision}`);
    return this.#write(key, value);
  }

  async delete(key: string, { revision }: { revision?: number } = {}): Promise<void> {
    const slot = this.#slots.get(key);
    if (revision !== undefined && (slot?.revision ?? 0) !== revision) {
      throw conflict(key, `is at revision ${slot?.revision ?? 0}, not ${revision}`);
    }
    if (!slot?.value) return;
    this.#revision++;
    this.#slots.set(key, { value: undefined, revision: this.#revision });
    this.#notify(key, { kind: "delete", key, revision: this.#revision });
  }

  async forget(key: string): Promise<void> {
    this.#slots.delete(key);
  }

  async keys(prefix: string): Promise<string[]> {
    const start = `${prefix}.`;
    return [...this.#slots]
      .filter(([key, slot]) => slot.value && key.startsWith(start))
      .map(([key]) => key);
  }

  watch(key: string, onChange: (change: KvChange) => void, options?: KvWatchOptions): () => void {
    const watchers = this.#watchers.get(key) ?? new Set();
    this.#watchers.set(key, watchers);
    watchers.add(onChange);
    options?.onLive?.(true); // in one process: live from here, and never lapses
    return () => watchers.delete(onChange);
  }

  #write(key: string, value: Uint8Array): number {
    if (value.byteLength > this.#maxValueBytes) {
      throw new FlotillaError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `value of ${value.byteLength} bytes for ${key} is over the limit of ${this.#maxValueBytes} bytes (memory store); keep records small and put large data in the blob store`,
      );
    }
    this.#revision++;
    this.#slots.set(key, { value: value.slice(), revision: this.#revision });
    this.#notify(key, {
      kind: "put",
      record: { key, value: value.slice(), revision: this.#revision },
    });
    return this.#revision;
  }

  /** Watchers hear of a change asynchronously, never inside the writer's call, as with a server. */
  #notify(key: string, change: KvChange): void {
    const watchers = this.#watchers.get(key);
    if (!watchers?.size) return;
    for (const watcher of [...watchers]) queueMicrotask(() => watcher(change));
  }
}

function conflict(key: string, state: string): FlotillaError {
  return new FlotillaError(ErrorCode.CONFLICT, `${key} ${state}`);
}
