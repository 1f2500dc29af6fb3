import t from "tap";
import { GraphRecorder } from "../../../components/dataflow/graph/nodes.ts";
import { buildJobGraph } from "../../../components/dataflow/internal_mod.ts";
import {
  defineJob,
  type JobEnv,
  sinks,
  sources,
  windows,
} from "../../../components/dataflow/mod.ts";

const words = defineJob({ name: "words", parallelism: 2 }, (env) =>
  env
    .source(sources.collection(["a b", "b c"]))
    .flatMap((line: string) => line.split(" "))
    .filter((w) => w.length > 0)
    .keyBy((w) => w)
    .window(windows.tumbling({ size: 1000 }))
    .count()
    .map((r) => `${r.key}=${r.value}`)
    .sink(sinks.collect()),
);

t.test(
  "chaining: forward edges with equal parallelism share a vertex; keyBy starts a new one",
  (t) => {
    const plan = words.graph().plan();
    // The collection source runs alone (parallelism 1); the operators take the job's 2.
    t.same(
      plan.vertices.map((v) => [v.name, v.parallelism]),
      [
        ["collection", 1],
        ["flatMap -> filter", 2],
        ["window(tumbling) -> map -> collect sink", 2],
      ],
    );
    const [source, words2, counts] = plan.vertices.map((v) => v.id);
    t.same(
      plan.edges.map((e) => [e.source, e.target, e.partitioning]),
      [
        [source, words2, "rebalance"],
        [words2, counts, "hash"],
      ],
    );
    t.same(plan.slotSharingGroups, [
      { name: "default", slots: 2, profile: { cpu: 0, memoryMb: 0, extended: {} } },
    ]);
    t.end();
  },
);

t.test("vertex and operator ids are deterministic across builds", (t) => {
  t.same(words.graph().plan(), words.graph().plan());
  t.same(
    words
      .graph()
      .plan()
      .vertices.flatMap((v) => v.operators.map((o) => o.id)),
    [
      "0-collection-source",
      "1-flatmap",
      "2-filter",
      "4-window-tumbling",
      "5-map",
      "6-collect-sink",
    ],
  );
  t.end();
});

t.test("a parallelism change between forward operators becomes a rebalance", (t) => {
  const job = defineJob({ name: "rescale", parallelism: 3 }, (env) =>
    env
      .source(sources.sequence({ keys: 3, perKey: 2 }))
      .map((r) => r.seq)
      .setParallelism(1)
      .map((n) => n + 1)
      .sink(sinks.log()),
  );
  const plan = job.graph().plan();
  t.same(
    plan.vertices.map((v) => v.parallelism),
    [3, 1, 3],
  );
  t.same(
    plan.edges.map((e) => e.partitioning),
    ["rebalance", "rebalance"],
  );
  t.end();
});

t.test("rebalance, broadcast and union shape the edges", (t) => {
  const job = defineJob({ name: "shapes", parallelism: 2 }, (env) => {
    const a = env.source(sources.collection([1, 2]));
    const b = env.source(sources.collection([3, 4]));
    a.union(b.map((n) => n * 10))
      .rebalance()
      .map((n) => n + 1)
      .broadcast()
      .sink(sinks.collect());
  });
  const plan = job.graph().plan();
  const name = (id: string) => plan.vertices.find((v) => v.id === id)!.name;
  // b (parallelism 1) -> map (2) rebalances implicitly; the union feeds the next map through
  // two rebalanced edges; broadcast reaches the sink.
  t.same(
    plan.edges.map((e) => [name(e.source), name(e.target), e.partitioning]),
    [
      ["collection", "map", "rebalance"],
      ["collection", "map", "rebalance"],
      ["map", "map", "rebalance"],
      ["map", "collect sink", "broadcast"],
    ],
  );
  t.end();
});

t.test("slot sharing groups and resources add up per group", (t) => {
  const job = defineJob({ name: "profiles", parallelism: 2 }, (env) =>
    env
      .source(sources.sequence({ keys: 2, perKey: 1 }))
      .map((r) => r.key)
      .resources({ cpu: 0.5, memoryMb: 256 })
      .keyBy((k) => k)
      .reduce((a, b) => a + b)
      .resources({ cpu: 1, memoryMb: 512, extended: { gpu: 1 } })
      .slotSharingGroup("heavy")
      .setParallelism(3)
      .sink(sinks.log()),
  );
  const plan = job.graph().plan();
  t.same(
    plan.slotSharingGroups.map((g) => [g.name, g.slots, g.profile]),
    [
      ["default", 2, { cpu: 0.5, memoryMb: 256, extended: {} }],
      ["heavy", 3, { cpu: 1, memoryMb: 512, extended: { gpu: 1 } }],
    ],
  );
  t.end();
});

t.test("invalid jobs fail at definition with a clear error", (t) => {
  t.throws(() => defineJob({ name: "" }, () => {}), /non-empty 'name'/);
  t.throws(
    () => defineJob({ name: "p", parallelism: 0 }, () => {}),
    /parallelism must be a whole number >= 1, got 0/,
  );
  const noSink = defineJob({ name: "nosink" }, (env) =>
    env.source(sources.collection([1])).map((n) => n),
  );
  t.throws(() => noSink.graph(), { code: "INVALID_ARGUMENT", message: /job 'nosink': no sink/ });
  const tooWide = defineJob({ name: "wide", maxParallelism: 4 }, (env) =>
    env
      .source(sources.collection([1]))
      .map((n) => n)
      .setParallelism(8)
      .sink(sinks.log()),
  );
  t.throws(() => tooWide.graph(), /parallelism 8 of 'map' is above maxParallelism 4/);
  const unkeyed = defineJob({ name: "unkeyed" }, (env) =>
    // A JS caller without types reaches this at run time.
    (env.source(sources.collection([1])) as unknown as { reduce(fn: unknown): void }).reduce(
      (a: number, b: number) => a + b,
    ),
  );
  t.throws(() => unkeyed.graph(), /reduce\(\) needs a keyed stream: call keyBy/);
  const badFn = defineJob({ name: "badfn" }, (env) =>
    env
      .source(sources.collection([1]))
      .map(42 as never)
      .sink(sinks.log()),
  );
  t.throws(() => badFn.graph(), /map\(\) needs a function, got number/);
  const missingArg = defineJob({ name: "args" }, (env) =>
    env.source(sources.lines({ path: env.arg("input") })).sink(sinks.log()),
  );
  t.throws(() => missingArg.graph(), /job argument 'input' is missing: pass --arg input=<value>/);
  t.doesNotThrow(() => missingArg.graph({ args: { input: "/tmp/x" } }));
  t.end();
});

t.test("a cycle in the recorded graph is refused", (t) => {
  const recorder = new GraphRecorder();
  const source = recorder.add({
    kind: "source",
    name: "src",
    source: sources.collection([1]) as never,
    eventTime: false,
  });
  const a = recorder.add({
    kind: "operator",
    name: "a",
    operator: "map",
    input: source,
    factory: () => ({}) as never,
  });
  const b = recorder.add({
    kind: "operator",
    name: "b",
    operator: "map",
    input: a,
    factory: () => ({}) as never,
  });
  (a as { input: unknown }).input = b; // only reachable by tampering: the API cannot build cycles
  recorder.add({ kind: "sink", name: "out", input: b, sink: sinks.log() as never });
  t.throws(() => buildJobGraph(recorder, { name: "cyclic" }), /the dataflow has a cycle/);
  t.end();
});

t.test("the CLI's parallelism override applies to the graph", (t) => {
  t.same(
    words
      .graph({ parallelism: 4 })
      .plan()
      .vertices.map((v) => v.parallelism),
    [1, 4, 4],
  );
  t.end();
});

t.test("checkpointing options are checked when the job is defined", (t) => {
  const build = (env: JobEnv) => env.source(sources.collection([1])).sink(sinks.discard());
  t.throws(
    () => defineJob({ name: "bad", checkpointing: { intervalMs: 5 } }, build),
    /checkpointing.intervalMs must be >= 10 ms, got 5/,
  );
  t.throws(
    () =>
      defineJob({ name: "bad", checkpointing: { intervalMs: 100, tolerableFailures: -1 } }, build),
    /checkpointing.tolerableFailures must be a whole number >= 0, got -1/,
  );
  const graph = defineJob({ name: "ok", checkpointing: { intervalMs: 100 } }, build).graph();
  t.match(graph.options.checkpointing, { timeoutMs: 60_000, tolerableFailures: 3 }, "defaults");
  t.end();
});
