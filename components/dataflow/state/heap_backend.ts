/**
 * The in-memory keyed state backend: value, list and map state plus event- and processing-time
 * timers, all scoped to the current key and snapshotted per key group, so a restore at another
 * parallelism takes exactly the key groups it owns from any number of snapshots.
 */
import { ErrorCode, FlotillaError, InvalidArgumentError } from "../../core/mod.ts";
import {
  type KeyedBackend,
  type KeyedSnapshot,
  type ListState,
  type MapState,
  MIN_WATERMARK,
  type TimerService,
  type Timestamp,
  type ValueState,
} from "../types.ts";
import {
  type KeyEntry,
  type KeyIdentity,
  newEntry,
  restoredStates,
  type SnapshotEntry,
  type StateKind,
  snapshotEntry,
  type TimerField,
} from "./key_entry.ts";
import { keyGroupOf, keyId } from "./key_groups.ts";
import { TimerQueue } from "./timer_queue.ts";

/** A timer fired for `key`; the backend has set it as the current key. */
export type TimerCallback = (time: number, key: unknown) => void;

/** A KeyedBackend that also owns the timers of its keys (what keyed operators need). */
export interface KeyedBackendWithTimers extends KeyedBackend {
  readonly timers: TimerService;
  /** Fires, in time order, every event-time timer at or before `watermark`. */
  advanceWatermark(watermark: Timestamp, fire: TimerCallback): void;
  /** The earliest pending processing-time timer, if any: when the runtime should call back. */
  nextProcessingTime(): number | undefined;
  /** Fires, in time order, every processing-time timer at or before `now`. */
  advanceProcessingTime(now: number, fire: TimerCallback): void;
}

export interface KeyedBackendOptions {
  /** Key groups [start, end] this instance owns. */
  keyGroups: { start: number; end: number };
  maxParallelism: number;
  /** Processing-time clock. @default Date.now */
  now?: () => number;
}

/** True when `backend` is (like this module's) a keyed backend with timers. */
export function hasTimers(backend: KeyedBackend | undefined): backend is KeyedBackendWithTimers {
  return (
    backend !== undefined &&
    typeof (backend as Partial<KeyedBackendWithTimers>).advanceWatermark === "function" &&
    typeof (backend as Partial<KeyedBackendWithTimers>).advanceProcessingTime === "function"
  );
}

export function createKeyedBackend(options: KeyedBackendOptions): KeyedBackendWithTimers {
  return new HeapKeyedBackend(options);
}

class HeapKeyedBackend implements KeyedBackendWithTimers {
  readonly keyGroups: { start: number; end: number };
  readonly timers: TimerService;
  readonly #maxParallelism: number;
  readonly #now: () => number;
  readonly #entries = new Map<KeyIdentity, KeyEntry>();
  readonly #kinds = new Map<string, StateKind>();
  readonly #eventQueue = new TimerQueue<KeyEntry>();
  readonly #processingQueue = new TimerQueue<KeyEntry>();
  #watermark: Timestamp = MIN_WATERMARK;
  #hasKey = false;
  #key: unknown;
  #id: KeyIdentity = "";
  #group = -1;
  /** The current key's entry, undefined until it holds something. */
  #entry: KeyEntry | undefined;

  constructor({ keyGroups, maxParallelism, now = Date.now }: KeyedBackendOptions) {
    if (!Number.isInteger(maxParallelism) || maxParallelism < 1) {
      throw new InvalidArgumentError(
        `maxParallelism must be a whole number >= 1, got ${maxParallelism}`,
      );
    }
    const { start, end } = keyGroups;
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0)) {
      throw new InvalidArgumentError(
        `key groups must be whole numbers >= 0, got [${start}, ${end}]`,
      );
    }
    if (end < start || end >= maxParallelism) {
      throw new InvalidArgumentError(
        `key groups [${start}, ${end}] are not a range inside [0, ${maxParallelism - 1}]; use keyGroupRange(subtask, parallelism, maxParallelism)`,
      );
    }
    this.keyGroups = { start, end };
    this.#maxParallelism = maxParallelism;
    this.#now = now;
    this.timers = this.#timerService();
  }

  setCurrentKey(key: unknown): void {
    const id = keyId(key);
    this.#hasKey = true;
    this.#key = key;
    this.#id = id;
    const entry = this.#entries.get(id);
    this.#entry = entry;
    if (entry !== undefined) {
      this.#group = entry.group;
      return;
    }
    const group = keyGroupOf(key, this.#maxParallelism);
    if (group < this.keyGroups.start || group > this.keyGroups.end) {
      this.#hasKey = false;
      throw new FlotillaError(
        ErrorCode.INTERNAL,
        `key ${describeKey(key)} belongs to key group ${group}, outside this instance's key groups [${this.keyGroups.start}, ${this.keyGroups.end}] (maxParallelism ${this.#maxParallelism}): records were partitioned with another parallelism or maxParallelism than the state`,
      );
    }
    this.#group = group;
  }

  currentKey(): unknown {
    return this.#key;
  }

  /** Accessors are made once per name: user code may ask for them on every record. */
  readonly #accessors = new Map<string, unknown>();

  #accessor<A>(name: string, kind: StateKind, make: () => A): A {
    const cached = this.#accessors.get(`${kind}:${name}`);
    if (cached !== undefined) return cached as A;
    this.#declare(name, kind);
    const made = make();
    this.#accessors.set(`${kind}:${name}`, made);
    return made;
  }

  value<T>(name: string): ValueState<T> {
    return this.#accessor(name, "value", () => this.#valueState<T>(name));
  }

  list<T>(name: string): ListState<T> {
    return this.#accessor(name, "list", () => this.#listState<T>(name));
  }

  map<K, V>(name: string): MapState<K, V> {
    return this.#accessor(name, "map", () => this.#mapState<K, V>(name));
  }

  #valueState<T>(name: string): ValueState<T> {
    return {
      get: () => this.#read(name) as T | undefined,
      set: (value) => {
        if (value === undefined) this.#clear(name);
        else this.#write().states.set(name, value);
      },
      clear: () => this.#clear(name),
    };
  }

  #listState<T>(name: string): ListState<T> {
    const empty: readonly T[] = Object.freeze([]);
    return {
      get: () => (this.#read(name) as T[] | undefined) ?? empty,
      add: (value) => {
        const states = this.#write().states;
        const list = states.get(name) as T[] | undefined;
        if (list === undefined) states.set(name, [value]);
        else list.push(value);
      },
      update: (values) => {
        if (values.length === 0) this.#clear(name);
        else this.#write().states.set(name, values.slice());
      },
      clear: () => this.#clear(name),
    };
  }

  #mapState<K, V>(name: string): MapState<K, V> {
    const read = () => this.#read(name) as Map<KeyIdentity, [K, V]> | undefined;
    return {
      get: (key) => read()?.get(keyId(key))?.[1],
      has: (key) => read()?.has(keyId(key)) ?? false,
      set: (key, value) => {
        const states = this.#write().states;
        let map = states.get(name) as Map<KeyIdentity, [K, V]> | undefined;
        if (map === undefined) {
          map = new Map();
          states.set(name, map);
        }
        map.set(keyId(key), [key, value]);
      },
      delete: (key) => {
        const map = read();
        if (map === undefined) return;
        map.delete(keyId(key));
        if (map.size === 0) this.#clear(name);
      },
      entries: () => {
        const map = read();
        return map === undefined ? [] : Array.from(map.values(), ([k, v]) => [k, v] as [K, V]);
      },
      clear: () => this.#clear(name),
    };
  }

  advanceWatermark(watermark: Timestamp, fire: TimerCallback): void {
    if (watermark > this.#watermark) this.#watermark = watermark;
    this.#fireDue(this.#eventQueue, this.#watermark, "eventTimers", fire);
  }

  nextProcessingTime(): number | undefined {
    return this.#processingQueue.peek((time, entry) => entry.processingTimers?.has(time) === true);
  }

  advanceProcessingTime(now: number, fire: TimerCallback): void {
    this.#fireDue(this.#processingQueue, now, "processingTimers", fire);
  }

  snapshot(): KeyedSnapshot {
    const groups: Record<number, SnapshotEntry[]> = {};
    const kindOf = (name: string) => this.#kinds.get(name);
    for (const entry of this.#entries.values()) {
      const item = snapshotEntry(entry, kindOf);
      const group = groups[entry.group];
      if (group === undefined) groups[entry.group] = [item];
      else group.push(item);
    }
    return groups;
  }

  restore(snapshots: KeyedSnapshot[]): void {
    this.#entries.clear();
    this.#eventQueue.clear();
    this.#processingQueue.clear();
    this.#hasKey = false;
    this.#entry = undefined;
    const { start, end } = this.keyGroups;
    for (const snapshot of snapshots) {
      for (const [groupText, items] of Object.entries(snapshot ?? {})) {
        const group = Number(groupText);
        if (!(group >= start && group <= end)) continue;
        for (const item of items as SnapshotEntry[]) this.#restoreEntry(group, item);
      }
    }
  }

  #restoreEntry(group: number, item: SnapshotEntry): void {
    const id = keyId(item.key);
    const entry = newEntry(item.key, id, group);
    for (const [name, kind, data] of restoredStates(item)) {
      this.#declare(name, kind);
      entry.states.set(name, data);
    }
    this.#entries.set(id, entry);
    for (const time of item.et ?? []) this.#addTimer(entry, time, "eventTimers", this.#eventQueue);
    for (const time of item.pt ?? [])
      this.#addTimer(entry, time, "processingTimers", this.#processingQueue);
  }

  #declare(name: string, kind: StateKind): void {
    const known = this.#kinds.get(name);
    if (known === undefined) this.#kinds.set(name, kind);
    else if (known !== kind) {
      throw new InvalidArgumentError(
        `state '${name}' is a ${known} state; it cannot also be used as a ${kind} state: pick another name`,
      );
    }
  }

  #read(name: string): unknown {
    if (!this.#hasKey) throw noKey();
    return this.#entry?.states.get(name);
  }

  /** The current key's entry, created on first write. */
  #write(): KeyEntry {
    if (this.#entry !== undefined) return this.#entry;
    if (!this.#hasKey) throw noKey();
    const entry = newEntry(this.#key, this.#id, this.#group);
    this.#entries.set(this.#id, entry);
    this.#entry = entry;
    return entry;
  }

  #clear(name: string): void {
    if (!this.#hasKey) throw noKey();
    const entry = this.#entry;
    if (entry === undefined) return;
    entry.states.delete(name);
    this.#dropIfEmpty(entry);
  }

  #dropIfEmpty(entry: KeyEntry): void {
    if (entry.states.size > 0 || entry.eventTimers?.size || entry.processingTimers?.size) return;
    this.#entries.delete(entry.id);
    if (this.#entry === entry) this.#entry = undefined;
  }

  #addTimer(entry: KeyEntry, time: number, field: TimerField, queue: TimerQueue<KeyEntry>): void {
    let set = entry[field];
    if (set === undefined) {
      set = new Set();
      entry[field] = set;
    }
    if (set.has(time)) return;
    set.add(time);
    queue.push(time, entry);
  }

  #fireDue(
    queue: TimerQueue<KeyEntry>,
    until: number,
    field: TimerField,
    fire: TimerCallback,
  ): void {
    for (;;) {
      const next = queue.popDue(until);
      if (next === undefined) return;
      const { time, entry } = next;
      // Deleted timers stay in the queue until they come up; only live ones fire.
      if (entry[field]?.delete(time) !== true) continue;
      this.#hasKey = true;
      this.#key = entry.key;
      this.#id = entry.id;
      this.#group = entry.group;
      this.#entry = entry;
      // The key stays alive while its timer fires, so state written by `fire` lands in it.
      fire(time, entry.key);
      if (this.#entries.get(entry.id) === entry) this.#dropIfEmpty(entry);
    }
  }

  #timerService(): TimerService {
    const remove = (time: number, field: TimerField) => {
      if (!this.#hasKey) throw noKey();
      const entry = this.#entry;
      if (entry === undefined || entry[field]?.delete(time) !== true) return;
      this.#dropIfEmpty(entry);
    };
    return {
      currentWatermark: () => this.#watermark,
      currentProcessingTime: () => this.#now(),
      registerEventTimeTimer: (time) =>
        this.#addTimer(this.#write(), time, "eventTimers", this.#eventQueue),
      deleteEventTimeTimer: (time) => remove(time, "eventTimers"),
      registerProcessingTimeTimer: (time) =>
        this.#addTimer(this.#write(), time, "processingTimers", this.#processingQueue),
      deleteProcessingTimeTimer: (time) => remove(time, "processingTimers"),
    };
  }
}

function noKey(): FlotillaError {
  return new FlotillaError(
    ErrorCode.INTERNAL,
    "keyed state or timers used without a current key: keyed state exists only in operators after keyBy(), and the runtime must call setCurrentKey before each record",
  );
}

function describeKey(key: unknown): string {
  const id = keyId(key);
  return typeof id === "string" ? JSON.stringify(id) : String(id);
}
