/**
 * The job topology: plain data that survives CBOR, JSON and structuredClone, and `topologyAt`
 * gives what building the job again at a per-vertex parallelism gives, errors included.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, encode } from "cbor-x";
import t from "tap";
import { GraphRecorder } from "../../../components/dataflow/graph/nodes.ts";
import {
  buildJobGraph,
  configureJobRuntime,
  type JobGraph,
  type JobTopology,
  Partitioning,
  topologyAt,
  topologyOf,
} from "../../../components/dataflow/internal_mod.ts";
import { defineJob, sinks, sources } from "../../../components/dataflow/mod.ts";
import jetstreamEtl from "../../../examples/jetstream-etl.ts";
import sequenceCheck from "../../../examples/sequence-check.ts";
import windowedCounts from "../../../examples/windowed-counts.ts";
import wordcount from "../../../examples/wordcount.ts";
import adaptiveSequence from "../../support/jobs/adaptive_sequence.ts";
import endless from "../../support/jobs/endless.ts";
import failing from "../../support/jobs/failing.ts";
import failsOnce from "../../support/jobs/fails_once.ts";
import profiled from "../../support/jobs/profiled.ts";
import secret from "../../support/jobs/secret.ts";
import stuckOnce from "../../support/jobs/stuck_once.ts";

// secret.ts reads its secret where the graph is built.
const secretsDir = mkdtempSync(join(tmpdir(), "flotilla-topology-"));
writeFileSync(join(secretsDir, "job"), "s3cret\n");
configureJobRuntime({ "secrets.dir": secretsDir, "artifact.cache-dir": "" });

type Build = (vertexParallelism?: Record<string, number>) => JobGraph;
const marker = join(secretsDir, "marker");

/** A job whose source runs wider than its pinned map: an implicit rebalance at the default. */
const narrowing = defineJob({ name: "narrowing", parallelism: 3 }, (env) =>
  env
    .source(sources.sequence({ keys: 3, perKey: 2 }))
    .uid("src")
    .map((r) => r)
    .uid("narrow")
    .setParallelism(1)
    .sink(sinks.discard()),
);

/** The API has no `.forward()`: an explicit forward edge (src -> m) is recorded by hand. */
const explicitForward: Build = (vertexParallelism) => {
  const recorder = new GraphRecorder();
  const src = recorder.add({
    kind: "source",
    name: "src",
    uid: "src",
    source: sources.sequence({ keys: 2, perKey: 2 }) as never,
    eventTime: false,
  });
  const forward = recorder.add({
    kind: "partition",
    name: "forward",
    input: src,
    partitioning: Partitioning.FORWARD,
  });
  // Another slot-sharing group, so the forward edge is not chained away.
  const m = recorder.add({
    kind: "operator",
    name: "m",
    uid: "m",
    operator: "map",
    input: forward,
    factory: () => ({}) as never,
    slotSharingGroup: "other",
  });
  recorder.add({ kind: "sink", name: "out", uid: "out", input: m, sink: sinks.discard() as never });
  return buildJobGraph(recorder, { name: "explicit-forward", parallelism: 2 }, vertexParallelism);
};

const fromJob =
  (job: typeof wordcount, args: Record<string, string> = {}): Build =>
  (vertexParallelism) =>
    job.graph({ args, ...(vertexParallelism ? { vertexParallelism } : {}) });

const jobs: Record<string, Build> = {
  wordcount: fromJob(wordcount),
  "windowed-counts": fromJob(windowedCounts),
  "sequence-check": fromJob(sequenceCheck, { keys: "4", perKey: "10" }),
  "jetstream-etl": fromJob(jetstreamEtl, { nats: "nats://127.0.0.1:1" }),
  "adaptive-sequence": fromJob(adaptiveSequence),
  endless: fromJob(endless),
  failing: fromJob(failing),
  "fails-once": fromJob(failsOnce, { marker }),
  profiled: fromJob(profiled, { memoryMb: "512", cpu: "0.5" }),
  secret: fromJob(secret, { expect: "x" }),
  "stuck-once": fromJob(stuckOnce, { marker }),
  narrowing: fromJob(narrowing),
  "explicit-forward": explicitForward,
};

/** Per-vertex parallelism maps that move every vertex up, down and apart from its neighbours. */
function parallelismMaps(base: JobTopology): Record<string, number>[] {
  const ids = base.vertices.map((v) => v.id);
  const all = (p: (i: number) => number) => Object.fromEntries(ids.map((id, i) => [id, p(i)]));
  return [
    {},
    all(() => 1),
    all(() => 3),
    all((i) => (i % 2 === 0 ? 1 : 2)),
    all((i) => (i % 2 === 0 ? 2 : 1)),
    all(() => base.options.maxParallelism),
    ...base.vertices.flatMap((v) => [{ [v.id]: v.parallelism + 1 }, { [v.id]: 1 }]),
  ];
}

/** The error `fn` throws, as what a caller sees of it. */
function errorOf(fn: () => unknown): { type: string; code?: unknown; message: string } | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    const e = err as Error & { code?: unknown };
    return { type: e.constructor.name, code: e.code, message: e.message };
  }
}

t.test("topologyAt equals rebuilding the job at that parallelism, errors alike", async (t) => {
  for (const [name, build] of Object.entries(jobs)) {
    const base = topologyOf(build());
    for (const p of parallelismMaps(base)) {
      const what = `${name} at ${JSON.stringify(p)}`;
      const rebuilt = errorOf(() => build(p));
      const derived = errorOf(() => topologyAt(base, p));
      t.strictSame(derived, rebuilt, `${what}: same error (or none)`);
      if (rebuilt) continue;
      t.strictSame(topologyAt(base, p), topologyOf(build(p)), what);
    }
  }
});

t.test("implicit edges follow the parallelism, explicit ones stay", async (t) => {
  const base = topologyOf(narrowing.graph());
  const edge = (g: JobTopology) => g.edges.find((e) => e.target === "narrow")!;
  t.strictSame(edge(base), {
    id: "e0",
    source: "src",
    target: "narrow",
    partitioning: "rebalance",
    implicit: true,
  });
  t.equal(edge(topologyAt(base, { src: 1 })).partitioning, "forward", "rebalance -> forward");
  const widened = topologyAt(base, { narrow: 3 });
  t.equal(edge(widened).partitioning, "forward");
  // The pinned map did not chain with the sink (1 vs 3): their edge too is implicit.
  t.strictSame(
    [base, widened].map((g) => g.edges.find((e) => e.source === "narrow")!.partitioning),
    ["rebalance", "forward"],
  );
  t.equal(edge(topologyAt(widened, { narrow: 2 })).partitioning, "rebalance", "and back");

  const keyed = topologyOf(sequenceCheck.graph());
  t.same(
    topologyAt(keyed, { sequence: 1 }).edges.map((e) => [e.partitioning, e.implicit]),
    [["hash", undefined]],
    "a keyBy edge is the user's choice: hash at any parallelism",
  );

  const fwd = topologyOf(explicitForward());
  t.strictSame(
    fwd.edges.map((e) => [e.source, e.target, e.partitioning, e.implicit ?? false]),
    [
      ["src", "m", "forward", false],
      ["m", "out", "forward", true],
    ],
  );
  t.strictSame(
    topologyAt(fwd, { src: 3, m: 3 }).edges.map((e) => e.partitioning),
    ["forward", "rebalance"],
  );
});

t.test("the errors are job.graph's, with the same class, code and message", async (t) => {
  const base = topologyOf(sequenceCheck.graph());
  const cases: [Record<string, number>, RegExp][] = [
    [{ nope: 2 }, /no vertex 'nope' to set the parallelism of; its vertices: sequence/],
    [
      { sequence: 0 },
      /parallelism 0 of vertex 'sequence' must be a whole number 1\.\.maxParallelism \(128\)/,
    ],
    [{ sequence: 1.5 }, /parallelism 1\.5 of vertex 'sequence'/],
    [{ "check-sequences": 129 }, /parallelism 129 of vertex 'check-sequences'/],
  ];
  for (const [p, message] of cases)
    t.throws(() => topologyAt(base, p), {
      name: "FlotillaError",
      code: "INVALID_ARGUMENT",
      message,
    });
  t.throws(() => topologyAt(topologyOf(explicitForward()), { m: 3 }), {
    name: "FlotillaError",
    code: "INVALID_ARGUMENT",
    message:
      "job 'explicit-forward': forward edge from 'src' (2) to 'm' (3) needs equal parallelism",
  });
  t.throws(() => explicitForward({ m: 3 }), {
    message: /forward edge from 'src' \(2\) to 'm' \(3\)/,
  });
});

t.test("slot-sharing groups take their largest vertex parallelism; profiles stay", async (t) => {
  const base = topologyOf(profiled.graph({ args: { memoryMb: "512", cpu: "0.5" } }));
  const ids = base.vertices.map((v) => v.id);
  const at = topologyAt(base, { [ids[0]!]: 1, [ids[1]!]: 4 });
  t.strictSame(
    at.slotSharingGroups,
    base.slotSharingGroups.map((g) => ({ ...g, slots: 4 })),
  );
  t.strictSame(
    topologyAt(topologyOf(explicitForward()), { src: 3, m: 3, out: 1 }).slotSharingGroups.map(
      (g) => [g.name, g.slots],
    ),
    [
      ["default", 3],
      ["other", 3],
    ],
  );
});

t.test("a topology is plain data: CBOR, JSON and structuredClone give it back equal", async (t) => {
  for (const [name, build] of Object.entries(jobs)) {
    const topology = topologyOf(build());
    t.strictSame(decode(encode(topology)), topology, `${name}: CBOR`);
    t.strictSame(JSON.parse(JSON.stringify(topology)), topology, `${name}: JSON`);
    t.strictSame(structuredClone(topology), topology, `${name}: structuredClone`);
    const rescaled = topologyAt(topology, { [topology.vertices[0]!.id]: 2 });
    t.strictSame(decode(encode(rescaled)), rescaled, `${name} rescaled: CBOR`);
  }
});

t.test("a JobGraph is a JobTopology; topologyAt leaves its base as it was", async (t) => {
  const graph: JobTopology = windowedCounts.graph(); // compiles: structurally assignable
  const before = structuredClone(topologyOf(graph));
  const at = topologyAt(graph, { [graph.vertices[1]!.id]: 4 });
  t.strictSame(topologyOf(graph), before, "the base is not changed");
  t.doesNotThrow(() => structuredClone(at), "no function of the JobGraph is carried over");
  t.notOk("inputs" in at.vertices[0]!, "no vertex links");
  t.strictSame(Object.keys(at.vertices[0]!.source ?? {}), ["kind"], "the source is its kind only");
  t.throws(() => structuredClone(graph), "while the JobGraph itself holds functions");
});
