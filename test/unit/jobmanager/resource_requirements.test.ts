/** Parallelism bounds per vertex (Flink's resource-requirements shape) and how a PUT is checked. */
import t from "tap";
import { defineJob, sinks, sources } from "../../../components/dataflow/mod.ts";
import {
  boundsFrom,
  requirementsView,
} from "../../../components/jobmanager/resource_requirements.ts";

const job = defineJob({ name: "req", parallelism: 4, maxParallelism: 16 }, (env) =>
  env
    .source(sources.sequence({ keys: 4 }))
    .uid("src")
    .keyBy((r) => r.key)
    .process({ processElement: (r, ctx) => ctx.emit(r) })
    .uid("check")
    .sink(sinks.discard())
    .uid("out")
    .setParallelism(1),
);
const graph = job.graph();
const p = (lowerBound: number, upperBound: number) => ({ parallelism: { lowerBound, upperBound } });
/** The defaults: source and check follow the job's parallelism, the sink is fixed at 1. */
const current = {
  src: { lowerBound: 1, upperBound: 4 },
  check: { lowerBound: 1, upperBound: 4 },
  out: { lowerBound: 1, upperBound: 1 },
};

t.test("the view: every vertex with its own bounds, in the graph's order", (t) => {
  t.same(requirementsView(graph, current), { src: p(1, 4), check: p(1, 4), out: p(1, 1) });
  t.same(
    requirementsView(graph),
    { src: p(4, 4), check: p(4, 4), out: p(1, 1) },
    "without bounds (the default scheduler): each at its parallelism",
  );
  t.end();
});

t.test("a PUT sets the bounds of the vertices it names; the others keep theirs", (t) => {
  t.same(boundsFrom(graph, current, { src: p(1, 2) }), {
    ...current,
    src: { lowerBound: 1, upperBound: 2 },
  });
  t.same(
    boundsFrom(graph, current, { src: p(2, 2), check: p(3, 8) }),
    {
      src: { lowerBound: 2, upperBound: 2 },
      check: { lowerBound: 3, upperBound: 8 },
      out: { lowerBound: 1, upperBound: 1 },
    },
    "different ranges for different vertices",
  );
  t.same(
    boundsFrom(graph, current, { out: p(1, 3) }),
    { ...current, out: { lowerBound: 1, upperBound: 3 } },
    "a vertex with setParallelism may scale too",
  );
  t.same(current.src, { lowerBound: 1, upperBound: 4 }, "the current bounds are not changed");
  t.end();
});

t.test("a bad PUT is a 400 that names the vertices and what is wrong", (t) => {
  const refused = (body: Parameters<typeof boundsFrom>[2], pattern: RegExp) =>
    t.throws(() => boundsFrom(graph, current, body), { code: "BAD_REQUEST", message: pattern });
  refused({ nope: p(1, 2) }, /no vertex 'nope'; its vertices: src, check, out/);
  refused({ nope: p(1, 2), src: p(1, 2), gone: p(1, 1) }, /no vertex 'nope', 'gone'; its vertices/);
  refused({ src: p(3, 2) }, /'src': lowerBound 3 is above upperBound 2/);
  refused({ src: p(1, 17) }, /'src': upperBound 17 is above the job's maxParallelism 16/);
  refused(
    { src: p(1, 17), check: p(5, 4) },
    /'src': upperBound 17 .*; 'check': lowerBound 5 is above upperBound 4/,
  );
  t.end();
});
