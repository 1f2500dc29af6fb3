/**
 * What the heap backend keeps per key (its states and pending timers) and how one key is written
 * to and read back from a keyed snapshot.
 */
import { keyId } from "./key_groups.ts";

export type KeyIdentity = string | number | boolean;
export type StateKind = "value" | "list" | "map";
export type TimerField = "eventTimers" | "processingTimers";

/** Everything one key holds. Created on the first write, dropped when it holds nothing. */
export interface KeyEntry {
  readonly key: unknown;
  readonly id: KeyIdentity;
  readonly group: number;
  /** value: the value; list: an array; map: Map<keyId, [key, value]>. */
  readonly states: Map<string, unknown>;
  eventTimers: Set<number> | undefined;
  processingTimers: Set<number> | undefined;
}

/** One key in a snapshot: its original key, its states by name, and its pending timers. */
export interface SnapshotEntry {
  key: unknown;
  /** `{ v: value }`, `{ l: [values] }` or `{ m: [[key, value], ...] }` by state name. */
  s: Record<string, { v?: unknown; l?: unknown[]; m?: [unknown, unknown][] }>;
  et?: number[];
  pt?: number[];
}

export function newEntry(key: unknown, id: KeyIdentity, group: number): KeyEntry {
  return { key, id, group, states: new Map(), eventTimers: undefined, processingTimers: undefined };
}

/** A copy of `entry` that later writes to the live state cannot change. */
export function snapshotEntry(
  entry: KeyEntry,
  kindOf: (name: string) => StateKind | undefined,
): SnapshotEntry {
  const s: SnapshotEntry["s"] = {};
  for (const [name, data] of entry.states) {
    const kind = kindOf(name);
    if (kind === "value") s[name] = { v: data };
    else if (kind === "list") s[name] = { l: (data as unknown[]).slice() };
    else s[name] = { m: Array.from((data as Map<KeyIdentity, [unknown, unknown]>).values()) };
  }
  const item: SnapshotEntry = { key: entry.key, s };
  if (entry.eventTimers?.size) item.et = [...entry.eventTimers];
  if (entry.processingTimers?.size) item.pt = [...entry.processingTimers];
  return item;
}

/** The states of a snapshot entry, each with its kind and in the form a live entry keeps. */
export function* restoredStates(
  item: SnapshotEntry,
): Generator<[name: string, kind: StateKind, data: unknown]> {
  for (const [name, data] of Object.entries(item.s ?? {})) {
    if (data.l !== undefined) yield [name, "list", data.l.slice()];
    else if (data.m !== undefined)
      yield [name, "map", new Map(data.m.map(([k, v]) => [keyId(k), [k, v]]))];
    else yield [name, "value", data.v];
  }
}
