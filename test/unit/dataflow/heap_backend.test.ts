import t, { type Test } from "tap";
import { cbor, ErrorCode } from "../../../components/core/mod.ts";
import {
  createKeyedBackend,
  hasTimers,
  type KeyedBackendWithTimers,
} from "../../../components/dataflow/state/heap_backend.ts";
import { keyGroupOf, keyGroupRange } from "../../../components/dataflow/state/key_groups.ts";
import type { KeyedSnapshot } from "../../../components/dataflow/types.ts";

const MAX_PARALLELISM = 128;

/** The assertions `check` uses, so it takes any tap test. */
type Asserts = Pick<Test, "equal" | "same">;

function backend(subtask = 0, parallelism = 1, now?: () => number): KeyedBackendWithTimers {
  return createKeyedBackend({
    keyGroups: keyGroupRange(subtask, parallelism, MAX_PARALLELISM),
    maxParallelism: MAX_PARALLELISM,
    ...(now ? { now } : {}),
  });
}

/** What a checkpoint does to a snapshot: encode to CBOR and back. */
function throughCbor(snapshot: KeyedSnapshot): KeyedSnapshot {
  return cbor.decode(cbor.encode(snapshot)) as KeyedSnapshot;
}

const KEYS = Array.from({ length: 200 }, (_, i) => `user-${i}`);

/** Writes a value, a list and a map entry and timers for every key, all derived from the key. */
function fill(b: KeyedBackendWithTimers): void {
  const count = b.value<number>("count");
  const seen = b.list<string>("seen");
  const attrs = b.map<{ field: string }, number>("attrs");
  KEYS.forEach((key, i) => {
    b.setCurrentKey(key);
    count.set(i);
    seen.add(`${key}-a`);
    seen.add(`${key}-b`);
    attrs.set({ field: "i" }, i);
    b.timers.registerEventTimeTimer(1000 + i);
    b.timers.registerProcessingTimeTimer(5000 + i);
  });
}

/** Reads back what `fill` wrote for the keys `b` owns; fails if any is wrong. */
function check(t: Asserts, b: KeyedBackendWithTimers, owned: string[]): void {
  const count = b.value<number>("count");
  const seen = b.list<string>("seen");
  const attrs = b.map<{ field: string }, number>("attrs");
  let wrong = 0;
  for (const key of owned) {
    const i = KEYS.indexOf(key);
    b.setCurrentKey(key);
    if (count.get() !== i) wrong++;
    if (JSON.stringify(seen.get()) !== JSON.stringify([`${key}-a`, `${key}-b`])) wrong++;
    if (attrs.get({ field: "i" }) !== i) wrong++;
  }
  t.equal(wrong, 0, `state of ${owned.length} keys restored`);
  const fired: string[] = [];
  b.advanceWatermark(Number.POSITIVE_INFINITY, (time, key) => fired.push(`${key}@${time}`));
  t.same(
    fired.sort(),
    owned.map((key) => `${key}@${1000 + KEYS.indexOf(key)}`).sort(),
    "event timers restored",
  );
  t.equal(b.nextProcessingTime(), Math.min(...owned.map((key) => 5000 + KEYS.indexOf(key))));
}

function owns(b: KeyedBackendWithTimers, key: string): boolean {
  const group = keyGroupOf(key, MAX_PARALLELISM);
  return group >= b.keyGroups.start && group <= b.keyGroups.end;
}

t.test("value, list and map state are scoped to the current key", (t) => {
  const b = backend();
  const total = b.value<number>("total");
  const items = b.list<string>("items");
  const index = b.map<[number, number], string>("index");
  b.setCurrentKey("a");
  total.set(1);
  items.add("x");
  index.set([1, 2], "a12");
  b.setCurrentKey({ user: "b", region: 3 });
  t.equal(total.get(), undefined, "another key sees nothing");
  t.same(items.get(), []);
  t.equal(index.has([1, 2]), false);
  total.set(2);
  items.update(["y", "z"]);
  index.set([1, 2], "b12");
  b.setCurrentKey("a");
  t.equal(total.get(), 1);
  t.same(items.get(), ["x"]);
  t.equal(index.get([1, 2]), "a12");
  b.setCurrentKey({ region: 3, user: "b" });
  t.equal(total.get(), 2, "object keys are identified by content, not property order");
  t.same(items.get(), ["y", "z"]);
  t.same(index.entries(), [[[1, 2], "b12"]]);
  t.same(b.currentKey(), { region: 3, user: "b" }, "the key as last set");
  index.delete([1, 2]);
  t.same(index.entries(), []);
  total.clear();
  items.clear();
  t.equal(total.get(), undefined);
  t.same(items.get(), []);
  t.end();
});

t.test("misuse is a typed error", (t) => {
  const b = backend();
  const v = b.value<number>("v");
  t.throws(() => v.get(), { code: ErrorCode.INTERNAL }, "no current key yet");
  t.throws(() => b.list("v"), { code: ErrorCode.INVALID_ARGUMENT }, "one name, one kind");
  t.throws(() => createKeyedBackend({ keyGroups: { start: 10, end: 5 }, maxParallelism: 128 }), {
    code: ErrorCode.INVALID_ARGUMENT,
    message: /\[10, 5\]/,
  });
  t.throws(() => createKeyedBackend({ keyGroups: { start: 0, end: 128 }, maxParallelism: 128 }), {
    code: ErrorCode.INVALID_ARGUMENT,
  });
  const half = backend(1, 2);
  const foreign = KEYS.find((key) => !owns(half, key))!;
  t.throws(() => half.setCurrentKey(foreign), {
    code: ErrorCode.INTERNAL,
    message: /outside this instance's key groups \[64, 127\]/,
  });
  t.throws(
    () => half.value("v").get(),
    { code: ErrorCode.INTERNAL },
    "a rejected key is not current",
  );
  t.end();
});

t.test("snapshot is by key group, holds only non-empty keys, and survives CBOR", (t) => {
  const b = backend();
  const v = b.value<string>("v");
  b.setCurrentKey("kept");
  v.set("yes");
  b.setCurrentKey("cleared");
  v.set("no");
  v.clear();
  b.setCurrentKey("timer-only");
  b.timers.registerEventTimeTimer(7);
  b.timers.registerProcessingTimeTimer(9);
  b.setCurrentKey("timer-deleted");
  b.timers.registerEventTimeTimer(8);
  b.timers.deleteEventTimeTimer(8);
  const snapshot = throughCbor(b.snapshot());
  const groups = Object.keys(snapshot)
    .map(Number)
    .sort((x, y) => x - y);
  t.same(
    groups,
    [keyGroupOf("kept", 128), keyGroupOf("timer-only", 128)].sort((x, y) => x - y),
  );
  t.same(snapshot[keyGroupOf("kept", 128)], [{ key: "kept", s: { v: { v: "yes" } } }]);
  t.same(snapshot[keyGroupOf("timer-only", 128)], [{ key: "timer-only", s: {}, et: [7], pt: [9] }]);
  t.end();
});

t.test("restore on the same parallelism gives back state and timers", (t) => {
  const b = backend();
  fill(b);
  const copy = backend();
  copy.restore([throughCbor(b.snapshot())]);
  check(t, copy, KEYS);
  t.end();
});

t.test("rescale 1 -> 2: each instance takes exactly its key groups", (t) => {
  const one = backend();
  fill(one);
  const snapshot = throughCbor(one.snapshot());
  const left = backend(0, 2);
  const right = backend(1, 2);
  left.restore([snapshot]);
  right.restore([snapshot]);
  const leftKeys = KEYS.filter((key) => owns(left, key));
  const rightKeys = KEYS.filter((key) => owns(right, key));
  t.ok(leftKeys.length > 50 && rightKeys.length > 50, "keys spread over both halves");
  t.equal(leftKeys.length + rightKeys.length, KEYS.length);
  check(t, left, leftKeys);
  check(t, right, rightKeys);
  t.same(
    Object.keys(left.snapshot()).every((g) => Number(g) <= left.keyGroups.end),
    true,
    "nothing foreign was taken",
  );
  t.end();
});

t.test("rescale 2 -> 1: one instance merges both snapshots", (t) => {
  const left = backend(0, 2);
  const right = backend(1, 2);
  const value = (b: KeyedBackendWithTimers) => b.value<number>("count");
  KEYS.forEach((key, i) => {
    const b = owns(left, key) ? left : right;
    b.setCurrentKey(key);
    value(b).set(i);
  });
  const merged = backend();
  merged.restore([throughCbor(left.snapshot()), throughCbor(right.snapshot())]);
  const count = value(merged);
  t.same(
    KEYS.map((key) => {
      merged.setCurrentKey(key);
      return count.get();
    }),
    KEYS.map((_, i) => i),
  );
  t.end();
});

t.test("event timers fire in time order with their key current, once per (time, key)", (t) => {
  const b = backend();
  const label = b.value<string>("label");
  for (const [key, time] of [
    ["c", 30],
    ["a", 10],
    ["b", 20],
    ["a", 10],
    ["b", 10],
    ["a", 40],
  ] as const) {
    b.setCurrentKey(key);
    label.set(`label-${key}`);
    b.timers.registerEventTimeTimer(time);
  }
  b.setCurrentKey("a");
  b.timers.deleteEventTimeTimer(40);
  const fired: string[] = [];
  b.advanceWatermark(25, (time, key) => {
    fired.push(`${key}@${time}:${label.get()}`);
    t.equal(b.currentKey(), key);
  });
  t.same(fired, ["a@10:label-a", "b@10:label-b", "b@20:label-b"]);
  t.equal(b.timers.currentWatermark(), 25);
  b.advanceWatermark(20, () => t.fail("watermarks never go back"));
  t.equal(b.timers.currentWatermark(), 25);
  fired.length = 0;
  b.advanceWatermark(100, (time, key) => fired.push(`${key}@${time}`));
  t.same(fired, ["c@30"], "deleted timer does not fire");
  t.end();
});

t.test("a timer registered during a fire fires in the same advance if due", (t) => {
  const b = backend();
  b.setCurrentKey("k");
  b.timers.registerEventTimeTimer(5);
  const fired: number[] = [];
  b.advanceWatermark(20, (time) => {
    fired.push(time);
    if (time === 5) {
      b.timers.registerEventTimeTimer(12);
      b.timers.registerEventTimeTimer(30);
    }
  });
  t.same(fired, [5, 12]);
  b.advanceWatermark(30, (time) => fired.push(time));
  t.same(fired, [5, 12, 30]);
  t.end();
});

t.test("processing-time timers: next time, firing up to now, the backend's clock", (t) => {
  let clock = 100;
  const b = backend(0, 1, () => clock);
  t.equal(b.nextProcessingTime(), undefined);
  b.setCurrentKey("x");
  b.timers.registerProcessingTimeTimer(150);
  b.timers.registerProcessingTimeTimer(120);
  b.setCurrentKey("y");
  b.timers.registerProcessingTimeTimer(120);
  b.timers.registerProcessingTimeTimer(110);
  b.timers.deleteProcessingTimeTimer(110);
  t.equal(b.nextProcessingTime(), 120, "deleted timer skipped");
  t.equal(b.timers.currentProcessingTime(), 100);
  clock = 130;
  const fired: string[] = [];
  b.advanceProcessingTime(clock, (time, key) => fired.push(`${key}@${time}`));
  t.same(fired, ["x@120", "y@120"]);
  t.equal(b.nextProcessingTime(), 150);
  b.advanceWatermark(1e9, () => t.fail("event time does not fire processing timers"));
  t.end();
});

t.test("a key with nothing left is dropped from snapshots", (t) => {
  const b = backend();
  b.setCurrentKey("k");
  b.timers.registerEventTimeTimer(1);
  b.advanceWatermark(1, () => {});
  t.same(b.snapshot(), {});
  t.end();
});

t.test("hasTimers recognises this backend only", (t) => {
  t.equal(hasTimers(backend()), true);
  t.equal(hasTimers(undefined), false);
  t.end();
});
