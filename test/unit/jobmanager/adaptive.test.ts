/** The adaptive scheduler's decisions: slots per parallelism, the parallelism for the slots, when to act. */
import t from "tap";
import { defineJob, sinks, sources } from "../../../components/dataflow/mod.ts";
import { sameStructure } from "../../../components/jobmanager/adaptive.ts";
import {
  type Clock,
  chooseParallelism,
  compileScheduler,
  decide,
  StabilizationWindow,
  slotModel,
  slotsAt,
} from "../../../components/jobmanager/mod.ts";

const seq = sources.sequence({ keys: 8, perKey: 10 });

/** source, keyed process (both scale) -> map at 2 in group "side" -> sink at 1. */
const job = defineJob({ name: "shapes", parallelism: 4 }, (env) =>
  env
    .source(seq)
    .keyBy((r) => r.key)
    .process({ processElement: (r, ctx) => ctx.emit(r) })
    .name("check")
    .map((r) => r)
    .setParallelism(2)
    .slotSharingGroup("side")
    .sink(sinks.discard())
    .setParallelism(1),
);

const ANY = { cpu: 0, memoryMb: 0, extended: {} };

t.test("which vertices scale: the ones without setParallelism", (t) => {
  const graph = job.graph();
  t.same(
    graph.vertices.map((v) => [v.id, v.parallelism, v.fixedParallelism]),
    [
      ["0-sequence-source", 4, false],
      ["2-process", 4, false],
      ["3-map", 2, true],
      ["4-discard-sink", 1, true],
    ],
  );
  const model = slotModel(graph);
  t.same(model, [
    { name: "default", profile: ANY, fixed: 1, scales: true },
    { name: "side", profile: ANY, fixed: 2, scales: false },
  ]);
  t.same(slotsAt(model, 3), [
    { group: "default", count: 3 },
    { group: "side", count: 2 },
  ]);
  t.end();
});

t.test("slot sharing: a group needs its largest vertex's parallelism, fixed or not", (t) => {
  const wide = defineJob({ name: "wide", parallelism: 2 }, (env) =>
    env
      .source(seq)
      .setParallelism(6)
      .map((r) => r)
      .sink(sinks.discard()),
  );
  const model = slotModel(wide.graph());
  t.same(model, [{ name: "default", profile: ANY, fixed: 6, scales: true }]);
  t.same(slotsAt(model, 2), [{ group: "default", count: 6 }], "the fixed 6 wins at 2");
  t.same(slotsAt(model, 8), [{ group: "default", count: 8 }], "8 above it");
  t.end();
});

t.test("the parallelism for the slots there are", (t) => {
  const model = slotModel(job.graph());
  const choose = (
    slots: Record<string, number>,
    lowerBound = 1,
    upperBound = 4,
    compatible?: (p: number) => boolean,
  ) =>
    chooseParallelism({
      model,
      available: (g) => slots[g] ?? 0,
      bounds: { lowerBound, upperBound },
      ...(compatible ? { compatible } : {}),
    });
  t.equal(choose({ default: 2, side: 2 }), 2, "2 slots: parallelism 2");
  t.equal(choose({ default: 7, side: 2 }), 4, "never above the upper bound");
  t.equal(choose({ default: 3, side: 1 }, 1), undefined, "the fixed group lacks a slot");
  t.equal(choose({ default: 0, side: 2 }), undefined, "nothing for the scaling group");
  t.equal(choose({ default: 2, side: 2 }, 3), undefined, "below the lower bound");
  t.equal(choose({ default: 3, side: 2 }, 3), 3, "at the lower bound");
  t.equal(
    choose({ default: 4, side: 2 }, 1, 4, (p) => p !== 4 && p !== 3),
    2,
    "the largest parallelism whose graph chains the same",
  );
  t.end();
});

t.test("what to do: wait, stabilize, start, keep or rescale", (t) => {
  const bounds = { lowerBound: 1, upperBound: 4 };
  const d = (
    running: boolean,
    current: number | undefined,
    target: number | undefined,
    windowElapsed = false,
    b = bounds,
  ) => decide({ running, ...(current ? { current } : {}), target, bounds: b, windowElapsed });
  t.match(d(false, undefined, undefined), { action: "wait", why: /parallelism 1/ });
  t.same(
    d(false, undefined, 2),
    { action: "stabilize" },
    "less than the upper bound: wait a little",
  );
  t.same(d(false, undefined, 2, true), { action: "start", parallelism: 2 }, "then start with it");
  t.same(d(false, undefined, 4), { action: "start", parallelism: 4 }, "the upper bound: at once");
  t.same(d(true, 2, 2), { action: "keep" });
  t.same(
    d(true, 2, undefined),
    { action: "keep" },
    "a running job is not stopped for lack of slots",
  );
  t.same(d(true, 2, 3), { action: "stabilize" }, "more slots: wait for the rest");
  t.same(d(true, 2, 3, true), { action: "rescale", parallelism: 3 });
  t.same(d(true, 2, 4), { action: "rescale", parallelism: 4 }, "up to the upper bound at once");
  t.same(
    d(true, 4, 2, false, { lowerBound: 1, upperBound: 2 }),
    { action: "rescale", parallelism: 2 },
    "above a lowered upper bound: at once",
  );
  t.same(
    d(true, 2, 3, false, { lowerBound: 3, upperBound: 8 }),
    { action: "rescale", parallelism: 3 },
    "below a raised lower bound: at once",
  );
  t.end();
});

/** A clock the test moves by hand. */
function manualClock() {
  let now = 0;
  const timers: { at: number; fn: () => void; id: number }[] = [];
  let ids = 0;
  const clock: Clock = {
    now: () => now,
    setTimer: (fn, ms) => {
      const id = ++ids;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimer: (id) => {
      const i = timers.findIndex((x) => x.id === id);
      if (i >= 0) timers.splice(i, 1);
    },
  };
  const advance = (ms: number) => {
    now += ms;
    for (const due of timers.filter((x) => x.at <= now)) {
      timers.splice(timers.indexOf(due), 1);
      due.fn();
    }
  };
  return { clock, advance, pending: () => timers.length };
}

t.test(
  "the stabilization window opens on the first change and is not extended by later ones",
  (t) => {
    const { clock, advance, pending } = manualClock();
    let elapsed = 0;
    const window = new StabilizationWindow({
      stabilizationMs: 2000,
      clock,
      onElapsed: () => elapsed++,
    });
    window.open();
    t.equal(window.deadline, 2000);
    advance(1500);
    window.open(); // another TaskManager's slots
    t.equal(window.deadline, 2000, "the deadline stays");
    advance(499);
    t.equal(elapsed, 0);
    advance(1);
    t.equal(elapsed, 1, "decides at 2000 ms after the first change");
    t.notOk(window.isOpen);
    window.open();
    window.close();
    advance(5000);
    t.equal(elapsed, 1, "a closed window does not fire");
    t.equal(pending(), 0, "and leaves no timer");
    t.end();
  },
);

t.test("scheduler settings: reactive mode wins, then the job's choice, then the cluster's", (t) => {
  t.match(compileScheduler(), {
    type: "default",
    reactive: false,
    stabilizationMs: 2000,
    minParallelism: 1,
  });
  t.match(compileScheduler({ type: "adaptive" }), { type: "adaptive" });
  t.match(
    compileScheduler({ type: "adaptive" }, "default"),
    { type: "default" },
    "the job opts out",
  );
  t.match(compileScheduler({}, "adaptive"), { type: "adaptive" }, "the job opts in");
  t.match(compileScheduler({ mode: "reactive" }, "default"), { type: "adaptive", reactive: true });
  t.end();
});

t.test("a parallelism that changes chaining is recognised", (t) => {
  const pinned = defineJob({ name: "pinned", parallelism: 2 }, (env) =>
    env
      .source(seq)
      .map((r) => r)
      .setParallelism(2) // chains with the source at 2 only
      .sink(sinks.discard()),
  );
  t.ok(sameStructure(pinned.graph(), pinned.graph({ parallelism: 2 })));
  t.notOk(sameStructure(pinned.graph(), pinned.graph({ parallelism: 3 })));
  t.ok(sameStructure(job.graph(), job.graph({ parallelism: 7 })), "the shapes job scales freely");
  t.end();
});
