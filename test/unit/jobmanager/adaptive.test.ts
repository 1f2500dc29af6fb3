/** The adaptive scheduler's decisions: bounds and slots per vertex, the parallelism for the slots, when to act. */
import t from "tap";
import { defineJob, sinks, sources } from "../../../components/dataflow/mod.ts";
import { sameStructure } from "../../../components/jobmanager/adaptive.ts";
import {
  chooseParallelism,
  compileScheduler,
  decide,
  defaultBounds,
  StabilizationWindow,
  slotModel,
  slotsFor,
} from "../../../components/jobmanager/mod.ts";
import { ManualClock } from "../../support/clock.ts";

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

t.test(
  "default bounds: scaling vertices up to the job's parallelism, fixed ones at theirs",
  (t) => {
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
    const scheduler = { reactive: false, minParallelism: 1 };
    t.same(defaultBounds(graph, scheduler), {
      "0-sequence-source": { lowerBound: 1, upperBound: 4 },
      "2-process": { lowerBound: 1, upperBound: 4 },
      "3-map": { lowerBound: 2, upperBound: 2 },
      "4-discard-sink": { lowerBound: 1, upperBound: 1 },
    });
    t.match(
      defaultBounds(graph, { reactive: true, minParallelism: 2 }),
      {
        "0-sequence-source": { lowerBound: 2, upperBound: 128 },
        "3-map": { lowerBound: 2, upperBound: 2 },
      },
      "reactive: up to maxParallelism; the minimum is the lower bound",
    );
    const model = slotModel(graph);
    t.same(model, [
      {
        name: "default",
        profile: ANY,
        vertices: ["0-sequence-source", "2-process", "4-discard-sink"],
      },
      { name: "side", profile: ANY, vertices: ["3-map"] },
    ]);
    t.same(
      slotsFor(model, defaultBounds(graph, scheduler)),
      [
        { group: "default", count: 4 },
        { group: "side", count: 2 },
      ],
      "a group needs its largest upper bound",
    );
    t.end();
  },
);

/** Two vertices sharing one group, as the sequence check: a source and a keyed check. */
const pair = defineJob({ name: "pair", parallelism: 4 }, (env) =>
  env
    .source(seq)
    .uid("src")
    .keyBy((r) => r.key)
    .process({ processElement: (r, ctx) => ctx.emit(r) })
    .uid("check")
    .sink(sinks.discard()),
);

t.test("per-vertex parallelism: s = min(slots, largest upper), each vertex min(upper, s)", (t) => {
  const model = slotModel(pair.graph());
  const b = (lowerBound: number, upperBound: number) => ({ lowerBound, upperBound });
  const choose = (
    slots: number,
    bounds: Record<string, { lowerBound: number; upperBound: number }>,
    compatible?: (p: Record<string, number>) => boolean,
  ) =>
    chooseParallelism({
      model,
      available: () => slots,
      bounds,
      ...(compatible ? { compatible } : {}),
    });
  t.same(choose(4, { src: b(1, 2), check: b(1, 4) }), { src: 2, check: 4 }, "4 slots");
  t.same(choose(3, { src: b(1, 2), check: b(1, 4) }), { src: 2, check: 3 }, "3 slots");
  t.same(choose(1, { src: b(1, 2), check: b(1, 4) }), { src: 1, check: 1 }, "1 slot");
  t.same(
    choose(8, { src: b(1, 2), check: b(1, 6) }),
    { src: 2, check: 6 },
    "never above the largest upper bound",
  );
  t.same(
    choose(3, { src: b(1, 2), check: b(3, 6) }),
    { src: 2, check: 3 },
    "a vertex's lower bound is met by the slots",
  );
  t.equal(
    choose(2, { src: b(1, 2), check: b(3, 6) }),
    undefined,
    "2 slots cannot meet check's lower bound 3: wait",
  );
  t.equal(choose(0, { src: b(1, 2), check: b(1, 4) }), undefined, "no slot at all");
  t.same(
    choose(4, { src: b(1, 4), check: b(1, 4) }, (p) => p.check! <= 2),
    { src: 2, check: 2 },
    "one slot fewer until the graph is usable",
  );
  t.equal(
    choose(4, { src: b(1, 4), check: b(3, 4) }, (p) => p.check! <= 2),
    undefined,
    "but never below a lower bound",
  );
  t.end();
});

t.test("per-vertex parallelism in two groups: each group by its own slots", (t) => {
  const model = slotModel(job.graph());
  const bounds = {
    "0-sequence-source": { lowerBound: 1, upperBound: 4 },
    "2-process": { lowerBound: 1, upperBound: 3 },
    "3-map": { lowerBound: 1, upperBound: 2 },
    "4-discard-sink": { lowerBound: 1, upperBound: 1 },
  };
  const slots: Record<string, number> = { default: 3, side: 2 };
  t.same(chooseParallelism({ model, available: (g) => slots[g] ?? 0, bounds }), {
    "0-sequence-source": 3,
    "2-process": 3,
    "3-map": 2,
    "4-discard-sink": 1,
  });
  t.equal(
    chooseParallelism({ model, available: (g) => (g === "side" ? 0 : 4), bounds }),
    undefined,
    "a group without a slot",
  );
  t.end();
});

t.test("what to do: wait, stabilize, start, keep or rescale", (t) => {
  const bounds = { a: { lowerBound: 1, upperBound: 2 }, b: { lowerBound: 1, upperBound: 4 } };
  const at = (a: number, b: number) => ({ a, b });
  const d = (
    running: boolean,
    current: Record<string, number> | undefined,
    target: Record<string, number> | undefined,
    windowElapsed = false,
    b: Record<string, { lowerBound: number; upperBound: number }> = bounds,
  ) => decide({ running, ...(current ? { current } : {}), target, bounds: b, windowElapsed });
  t.match(d(false, undefined, undefined), { action: "wait", why: /lower bounds.*'b' >= 1/ });
  t.same(
    d(false, undefined, at(2, 2)),
    { action: "stabilize" },
    "a vertex below its upper bound: wait a little",
  );
  t.same(d(false, undefined, at(2, 2), true), { action: "start", parallelism: at(2, 2) });
  t.same(
    d(false, undefined, at(2, 4)),
    { action: "start", parallelism: at(2, 4) },
    "every upper bound: at once",
  );
  t.same(d(true, at(2, 2), at(2, 2)), { action: "keep" });
  t.same(d(true, at(2, 2), undefined), { action: "keep" }, "a running job is not stopped");
  t.same(d(true, at(2, 2), at(2, 3)), { action: "stabilize" }, "more slots: wait for the rest");
  t.same(d(true, at(2, 2), at(2, 3), true), { action: "rescale", parallelism: at(2, 3) });
  t.same(
    d(true, at(2, 2), at(2, 4)),
    { action: "rescale", parallelism: at(2, 4) },
    "up to every upper bound at once",
  );
  t.same(
    d(true, at(4, 4), at(2, 4)),
    { action: "rescale", parallelism: at(2, 4) },
    "one vertex above its lowered upper bound: at once",
  );
  t.same(
    d(true, at(2, 2), at(2, 3), false, {
      a: { lowerBound: 1, upperBound: 2 },
      b: { lowerBound: 3, upperBound: 8 },
    }),
    { action: "rescale", parallelism: at(2, 3) },
    "one vertex below its raised lower bound: at once",
  );
  t.end();
});

t.test(
  "the stabilization window opens on the first change and is not extended by later ones",
  async (t) => {
    const clock = new ManualClock();
    let elapsed = 0;
    const window = new StabilizationWindow({
      stabilizationMs: 2000,
      clock,
      onElapsed: () => elapsed++,
    });
    const opened = clock.now();
    window.open();
    t.equal(window.deadline, opened + 2000);
    await clock.advance(1500);
    window.open(); // another TaskManager's slots
    t.equal(window.deadline, opened + 2000, "the deadline stays");
    await clock.advance(499);
    t.equal(elapsed, 0);
    await clock.advance(1);
    t.equal(elapsed, 1, "decides at 2000 ms after the first change");
    t.notOk(window.isOpen);
    window.open();
    window.close();
    await clock.advance(5000);
    t.equal(elapsed, 1, "a closed window does not fire");
    t.equal(clock.pending(), 0, "and leaves no timer");
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

t.test("vertexParallelism: the same vertices and chains, each at its own parallelism", (t) => {
  const base = pair.graph();
  const g = pair.graph({ vertexParallelism: { src: 2, check: 5 } });
  t.ok(sameStructure(base, g), "ids, chains and edges as submitted");
  t.same(
    g.vertices.map((v) => [v.id, v.parallelism]),
    [
      ["src", 2],
      ["check", 5],
    ],
  );
  t.same(
    g.slotSharingGroups.map((x) => x.slots),
    [5],
    "the group needs its largest vertex",
  );
  t.same(
    pair.graph({ vertexParallelism: { check: 3 } }).vertices.map((v) => v.parallelism),
    [4, 3],
    "vertices left out keep the job's parallelism",
  );

  const pinned = defineJob({ name: "pinned", parallelism: 2 }, (env) =>
    env
      .source(seq)
      .map((r) => r)
      .setParallelism(2)
      .sink(sinks.discard()),
  );
  const wide = pinned.graph({ vertexParallelism: { "0-sequence-source": 3 } });
  t.ok(sameStructure(pinned.graph(), wide), "a chain made at the default parallelism stays whole");
  t.equal(wide.vertices[0]!.parallelism, 3);

  const fanOut = defineJob({ name: "fan-out", parallelism: 2 }, (env) => {
    const s = env.source(seq).uid("src");
    s.map((r) => r)
      .uid("a")
      .sink(sinks.discard());
    s.map((r) => r)
      .uid("b")
      .sink(sinks.discard());
  });
  t.same(
    fanOut.graph().edges.map((e) => e.partitioning),
    ["forward", "forward"],
    "equal parallelism: forward",
  );
  t.same(
    fanOut.graph({ vertexParallelism: { a: 3 } }).edges.map((e) => [e.target, e.partitioning]),
    [
      ["a", "rebalance"],
      ["b", "forward"],
    ],
    "an implicit forward between unequal vertices becomes a rebalance",
  );

  t.throws(() => pair.graph({ vertexParallelism: { nope: 2, gone: 1 } }), {
    code: "INVALID_ARGUMENT",
    message: /no vertex 'nope', 'gone' to set the parallelism of; its vertices: src, check/,
  });
  t.throws(() => pair.graph({ vertexParallelism: { check: 129 } }), {
    message: /parallelism 129 of vertex 'check' must be a whole number 1..maxParallelism \(128\)/,
  });
  t.throws(() => pair.graph({ vertexParallelism: { check: 0 } }), { message: /parallelism 0/ });
  t.end();
});
