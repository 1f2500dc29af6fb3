import t from "tap";
import { cbor, ErrorCode } from "../../../components/core/mod.ts";
import {
  type WindowAggregation,
  WindowOperator,
  type WindowResult,
  windowOperator,
} from "../../../components/dataflow/operators/window.ts";
import { createKeyedBackend } from "../../../components/dataflow/state/heap_backend.ts";
import { keyGroupRange } from "../../../components/dataflow/state/key_groups.ts";
import type { KeyedSnapshot } from "../../../components/dataflow/types.ts";
import { type WindowAssigner, windows } from "../../../components/dataflow/windows.ts";
import { collectingOutput, testContext } from "../../support/dataflow.ts";

const sum: WindowAggregation<number> = { kind: "reduce", reduce: (a, b) => a + b };
/** Counts records of any type: its type stays `{ kind: "count" }`, which fits every record type. */
const count = { kind: "count" } as const satisfies WindowAggregation<unknown>;
/** Collects the values a window saw, sorted: shows exactly which records landed where. */
const values: WindowAggregation<number, number[], number[]> = {
  kind: "aggregate",
  create: () => [],
  add: (acc, v) => [...acc, v],
  merge: (a, b) => [...a, ...b],
  result: (acc) => [...acc].sort((x, y) => x - y),
};

interface Setup<IN, ACC, R> {
  assigner: WindowAssigner;
  aggregation: WindowAggregation<IN, ACC, R>;
  allowedLatenessMs?: number;
  subtask?: number;
  parallelism?: number;
}

/** Drives one WindowOperator the way the task runtime does. */
function harness<IN, ACC, R>({
  assigner,
  aggregation,
  allowedLatenessMs = 0,
  subtask = 0,
  parallelism = 1,
}: Setup<IN, ACC, R>) {
  const ctx = testContext({ manualClock: true, subtask, parallelism });
  const output = collectingOutput<WindowResult<string, R>>();
  const keyed = createKeyedBackend({
    keyGroups: keyGroupRange(subtask, parallelism, ctx.maxParallelism),
    maxParallelism: ctx.maxParallelism,
    now: ctx.now,
  });
  const op = new WindowOperator<IN, string, ACC, R>({ assigner, aggregation, allowedLatenessMs });
  const open = () => op.open({ ...ctx, output, keyed, timers: keyed.timers });
  open();
  return {
    ctx,
    op,
    keyed,
    output,
    open,
    send(key: string, value: IN, timestamp?: number) {
      keyed.setCurrentKey(key);
      op.processElement(value, timestamp);
    },
    watermark(watermark: number) {
      op.processWatermark(watermark);
    },
    /** Moves the clock and fires due processing-time timers, as the task loop does. */
    advance(ms: number) {
      ctx.advanceClock(ms);
      keyed.advanceProcessingTime(ctx.now(), (time, key) => op.onProcessingTime(time, key));
    },
    late: () => ctx.counter("lateRecordsDropped").get(),
    /** `key [start,end) value @timestamp`, in emission order. */
    results: () =>
      output.records.map(
        ({ value: r, timestamp }) =>
          `${r.key} [${r.start},${r.end}) ${JSON.stringify(r.value)} @${timestamp}`,
      ),
  };
}

t.test("assigners: tumbling with offset, sliding, session, negative times", (t) => {
  t.same(windows.tumbling({ size: 10 }).assign(17), [{ start: 10, end: 20 }]);
  t.same(windows.tumbling({ size: 10 }).assign(-1), [{ start: -10, end: 0 }]);
  t.same(windows.tumbling({ size: 10, offset: 3 }).assign(2), [{ start: -7, end: 3 }]);
  t.same(windows.tumbling({ size: 10, offset: 3 }).assign(3), [{ start: 3, end: 13 }]);
  t.same(windows.sliding({ size: 10, slide: 5 }).assign(7), [
    { start: 5, end: 15 },
    { start: 0, end: 10 },
  ]);
  t.same(windows.sliding({ size: 15, slide: 5 }).assign(10).length, 3);
  t.same(windows.session({ gap: 30 }).assign(100), [{ start: 100, end: 130 }]);
  t.equal(windows.session({ gap: 30 }).time, "event", "event time unless told otherwise");
  t.equal(windows.tumbling({ size: 1, time: "processing" }).time, "processing");
  t.throws(() => windows.tumbling({ size: 0 }), {
    code: ErrorCode.INVALID_ARGUMENT,
    message: /size/,
  });
  t.throws(() => windows.sliding({ size: 10, slide: 5, offset: 5 }), { message: /offset/ });
  t.throws(() => windows.session({ gap: 5, time: "wall" as "event" }), { message: /time/ });
  t.end();
});

t.test("tumbling event-time count, out-of-order records, fired by watermarks", (t) => {
  const h = harness({ assigner: windows.tumbling({ size: 10 }), aggregation: count });
  h.send("a", "x", 1);
  h.send("a", "x", 5);
  h.send("b", "x", 2);
  h.send("a", "x", 12);
  h.send("a", "x", 3); // out of order, but the watermark has not passed 9 yet
  t.same(h.results(), []);
  h.watermark(9);
  t.same(h.results(), ["a [0,10) 3 @9", "b [0,10) 1 @9"]);
  h.send("a", "x", 19);
  h.send("b", "x", 11);
  h.send("a", "x", 25);
  h.watermark(18);
  t.equal(h.results().length, 2, "[10,20) waits for watermark 19");
  h.watermark(19);
  t.same(h.results().slice(2), ["a [10,20) 2 @19", "b [10,20) 1 @19"]);
  t.same(h.output.watermarks, [9, 18, 19], "watermarks are forwarded");
  h.op.endInput();
  t.same(h.results().slice(4), ["a [20,30) 1 @29"]);
  t.same(h.keyed.snapshot(), {}, "no window state left");
  t.end();
});

t.test("sliding event-time reduce puts each record in every window containing it", (t) => {
  const h = harness({ assigner: windows.sliding({ size: 10, slide: 5 }), aggregation: sum });
  h.send("a", 1, 7); // [0,10) [5,15)
  h.send("a", 10, 12); // [5,15) [10,20)
  h.send("a", 100, 3); // [-5,5) [0,10)
  h.watermark(9);
  t.same(h.results(), ["a [-5,5) 100 @4", "a [0,10) 101 @9"]);
  h.op.endInput();
  t.same(h.results().slice(2), ["a [5,15) 11 @14", "a [10,20) 10 @19"]);
  t.end();
});

t.test("session windows merge per key, touching windows included", (t) => {
  const h = harness({ assigner: windows.session({ gap: 10 }), aggregation: values });
  h.send("a", 0, 0); // [0,10)
  h.send("a", 25, 25); // [25,35)
  h.send("a", 12, 12); // [12,22): touches neither
  h.send("a", 20, 20); // [20,30) bridges [12,22) and [25,35) -> [12,35)
  h.send("a", 40, 40); // [40,50)
  h.send("a", 50, 50); // [50,60) touches [40,50) -> [40,60)
  h.send("b", 3, 3); // other key: [3,13), no merging across keys
  h.watermark(20);
  t.same(h.results(), ["a [0,10) [0] @9", "b [3,13) [3] @12"]);
  h.send("a", 30, 30); // [30,40) touches [12,35) and [40,60) -> [12,60)
  h.watermark(100);
  t.same(
    h.results().slice(2),
    ["a [12,60) [12,20,25,30,40,50] @59"],
    "merged-away timers stay silent",
  );
  t.same(h.keyed.snapshot(), {});
  t.end();
});

t.test("session windows count and reduce merge too; aggregate without merge is refused", (t) => {
  for (const [aggregation, expected] of [
    [count, "k [1,15) 3 @14"],
    [sum, "k [1,15) 7 @14"],
  ] as const) {
    const h = harness({ assigner: windows.session({ gap: 5 }), aggregation });
    h.send("k", 1, 1);
    h.send("k", 4, 10);
    h.send("k", 2, 6); // [6,11) touches [1,6) and [10,15): one session [1,15)
    h.op.endInput();
    t.same(h.results(), [expected]);
  }
  t.throws(
    () =>
      windowOperator({
        assigner: windows.session({ gap: 5 }),
        aggregation: {
          kind: "aggregate",
          create: () => 0,
          add: (a: number) => a,
          result: (a) => a,
        },
      }),
    { code: ErrorCode.INVALID_ARGUMENT, message: /merge/ },
  );
  t.end();
});

t.test("late records are dropped and counted, once per record", (t) => {
  const h = harness({ assigner: windows.tumbling({ size: 10 }), aggregation: count });
  h.send("a", "x", 5);
  h.watermark(10);
  t.same(h.results(), ["a [0,10) 1 @9"]);
  h.send("a", "late", 7);
  h.send("a", "late", 9);
  h.send("a", "on time", 15);
  t.equal(h.late(), 2);
  h.op.endInput();
  t.same(h.results(), ["a [0,10) 1 @9", "a [10,20) 1 @19"]);

  const s = harness({ assigner: windows.sliding({ size: 10, slide: 5 }), aggregation: sum });
  s.watermark(10);
  s.send("a", 1, 8); // [0,10) is late but [5,15) is not: kept
  s.send("a", 2, 2); // [-5,5) and [0,10) both late: one drop
  t.equal(s.late(), 1);
  s.op.endInput();
  t.same(s.results(), ["a [5,15) 1 @14"]);

  const g = harness({ assigner: windows.session({ gap: 5 }), aggregation: count });
  g.watermark(100);
  g.send("a", "x", 90); // [90,95): maxTimestamp 94 <= 100
  t.equal(g.late(), 1);
  t.end();
});

t.test("allowed lateness: late records re-fire the window until the watermark passes it", (t) => {
  const h = harness({
    assigner: windows.tumbling({ size: 10 }),
    aggregation: sum,
    allowedLatenessMs: 5,
  });
  h.send("a", 1, 3);
  h.send("a", 2, 8);
  h.watermark(9);
  t.same(h.results(), ["a [0,10) 3 @9"]);
  h.send("a", 10, 4); // 9 + 5 > 9: allowed, fires the update at once
  t.same(h.results().slice(1), ["a [0,10) 13 @9"]);
  h.watermark(13);
  t.equal(h.results().length, 2, "no second firing from the watermark");
  h.send("a", 100, 6); // 9 + 5 > 13: still allowed
  t.same(h.results().slice(2), ["a [0,10) 113 @9"]);
  h.watermark(14); // passes 9 + 5: the window is gone
  t.same(h.keyed.snapshot(), {});
  h.send("a", 1000, 1);
  t.equal(h.late(), 1);
  h.op.endInput();
  t.equal(h.results().length, 3, "endInput does not fire a window again");
  t.end();
});

t.test("processing-time windows assign by the clock and fire on processing timers", (t) => {
  const h = harness({
    assigner: windows.tumbling({ size: 100, time: "processing" }),
    aggregation: count,
  });
  h.send("a", "x");
  h.send("a", "x", 5_000); // a record's event time does not matter here
  h.send("b", "x");
  h.advance(50);
  h.send("a", "x");
  t.equal(h.keyed.nextProcessingTime(), 99);
  h.watermark(1e12);
  t.same(h.results(), [], "watermarks do not fire processing-time windows");
  h.advance(48); // now 98
  t.same(h.results(), []);
  h.advance(1); // now 99 = the window's last millisecond
  t.same(h.results(), ["a [0,100) 3 @99", "b [0,100) 1 @99"]);
  h.advance(1);
  h.send("a", "x"); // now 100: the next window
  h.advance(98);
  t.equal(h.results().length, 2);
  h.advance(1);
  t.same(h.results().slice(2), ["a [100,200) 1 @199"]);
  t.equal(h.keyed.nextProcessingTime(), undefined);

  const s = harness({
    assigner: windows.session({ gap: 30, time: "processing" }),
    aggregation: count,
  });
  s.send("a", "x"); // [0,30)
  s.advance(20);
  s.send("a", "x"); // [20,50) -> [0,50)
  s.advance(20); // the old timer at 29 fires and finds nothing
  t.same(s.results(), []);
  s.advance(10);
  t.same(s.results(), ["a [0,50) 2 @49"]);
  t.end();
});

t.test("endInput flushes every open window, event and processing time", (t) => {
  const e = harness({ assigner: windows.tumbling({ size: 10 }), aggregation: count });
  e.send("a", "x", 1);
  e.send("b", "x", 15);
  e.op.endInput();
  t.same(e.results().sort(), ["a [0,10) 1 @9", "b [10,20) 1 @19"]);
  const p = harness({
    assigner: windows.sliding({ size: 100, slide: 50, time: "processing" }),
    aggregation: count,
  });
  p.advance(60);
  p.send("a", "x");
  p.op.endInput();
  t.same(p.results(), ["a [0,100) 1 @99", "a [50,150) 1 @149"]);
  t.end();
});

t.test("misuse: no timestamps in event time, no keyed backend", (t) => {
  const h = harness({ assigner: windows.tumbling({ size: 10 }), aggregation: count });
  t.throws(() => h.send("a", "x"), {
    code: ErrorCode.INVALID_ARGUMENT,
    message: /assignTimestamps/,
  });
  const op = new WindowOperator({ assigner: windows.tumbling({ size: 10 }), aggregation: count });
  t.throws(() => op.open({ ...testContext(), output: collectingOutput() }), { message: /keyBy/ });
  t.throws(
    () =>
      windowOperator({
        assigner: windows.tumbling({ size: 10 }),
        aggregation: { kind: "max" } as never,
      }),
    {
      code: ErrorCode.INVALID_ARGUMENT,
    },
  );
  t.end();
});

// ---- checkpoint and restore in the middle of windows ------------------------------------------

type Input =
  | { kind: "record"; key: string; value: number; timestamp: number }
  | { kind: "watermark"; at: number };

/** Deterministic out-of-order input with late records and periodic watermarks. */
function input(): Input[] {
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const items: Input[] = [];
  let max = 0;
  for (let i = 0; i < 2000; i++) {
    // Every 25th record is far behind the watermark, every 7th a little (allowed-late re-fires).
    const late = i % 25 === 24 ? 300 : i % 7 === 6 ? 60 : 0;
    const timestamp = i * 5 + Math.floor(random() * 40) - late;
    max = Math.max(max, timestamp);
    items.push({ kind: "record", key: `k${Math.floor(random() * 30)}`, value: i, timestamp });
    if (i % 20 === 19) items.push({ kind: "watermark", at: max - 30 });
  }
  return items;
}

function run<ACC, R>(
  setup: Setup<number, ACC, R>,
  items: Input[],
  restoreAt?: number,
  parallelism = 1,
) {
  let instances = [harness(setup)];
  const feed = (item: Input) => {
    if (item.kind === "watermark") for (const h of instances) h.watermark(item.at);
    else
      instances
        .find((h) => owns(h.keyed.keyGroups, item.key))!
        .send(item.key, item.value, item.timestamp);
  };
  const done: string[] = [];
  let late = 0;
  items.forEach((item, i) => {
    if (i === restoreAt) {
      const snapshots = instances.map(
        (h) => cbor.decode(cbor.encode(h.keyed.snapshot())) as KeyedSnapshot,
      );
      const states = instances.map((h) => cbor.decode(cbor.encode(h.op.snapshotState(1))));
      for (const h of instances) done.push(...h.results());
      late += instances.reduce((n, h) => n + h.late(), 0);
      instances = Array.from({ length: parallelism }, (_, subtask) => {
        const h = harness({ ...setup, subtask, parallelism });
        h.keyed.restore(snapshots);
        h.op.restoreState(states);
        return h;
      });
    }
    feed(item);
  });
  for (const h of instances) h.op.endInput();
  for (const h of instances) done.push(...h.results());
  late += instances.reduce((n, h) => n + h.late(), 0);
  return { results: done.sort(), late };
}

function owns(range: { start: number; end: number }, key: string): boolean {
  const probe = createKeyedBackend({ keyGroups: range, maxParallelism: 128 });
  try {
    probe.setCurrentKey(key);
    return true;
  } catch {
    return false;
  }
}

/** One restore test per window kind; generic, as each kind folds into its own types. */
function restoreTest<ACC, R>(name: string, setup: Setup<number, ACC, R>) {
  t.test(`${name}: snapshot -> restore mid-window gives the uninterrupted results`, (t) => {
    const items = input();
    const reference = run(setup, items);
    t.ok(reference.results.length > 50, `${reference.results.length} results`);
    t.ok(reference.late > 0, `${reference.late} late records dropped`);
    // Restore right before a far-late record: it must still count as late after the restore.
    const restoreAt = items.findIndex(
      (item, i) => i > 1000 && item.kind === "record" && item.value % 25 === 24,
    );
    for (const parallelism of [1, 2, 3]) {
      const restored = run(setup, items, restoreAt, parallelism);
      t.same(restored.results, reference.results, `restored at parallelism ${parallelism}`);
      t.equal(restored.late, reference.late);
    }
    t.end();
  });
}

restoreTest("tumbling with allowed lateness", {
  assigner: windows.tumbling({ size: 100 }),
  aggregation: sum,
  allowedLatenessMs: 50,
});
restoreTest("sliding", { assigner: windows.sliding({ size: 100, slide: 40 }), aggregation: count });
restoreTest("session", { assigner: windows.session({ gap: 120 }), aggregation: values });
