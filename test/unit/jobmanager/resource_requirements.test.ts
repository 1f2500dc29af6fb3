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
const current = { lowerBound: 1, upperBound: 4 };

t.test(
  "the view: scaling vertices share the job's bounds, fixed ones show their parallelism",
  (t) => {
    t.same(requirementsView(graph, current), { src: p(1, 4), check: p(1, 4), out: p(1, 1) });
    t.end();
  },
);

t.test("a PUT sets the intersection of the ranges of the scaling vertices", (t) => {
  t.same(boundsFrom(graph, current, { src: p(1, 2) }), { lowerBound: 1, upperBound: 2 });
  t.same(boundsFrom(graph, current, { src: p(2, 8), check: p(1, 6) }), {
    lowerBound: 2,
    upperBound: 6,
  });
  t.same(boundsFrom(graph, current, { out: p(1, 3) }), current, "fixed vertices only: no change");
  t.end();
});

t.test("a bad PUT is a 400 that names the vertex and what is wrong", (t) => {
  const refused = (body: Parameters<typeof boundsFrom>[2], pattern: RegExp) =>
    t.throws(() => boundsFrom(graph, current, body), { code: "BAD_REQUEST", message: pattern });
  refused({ nope: p(1, 2) }, /no vertex 'nope'; its vertices: src, check, out/);
  refused({ src: p(3, 2) }, /'src': lowerBound 3 is above upperBound 2/);
  refused({ src: p(1, 17) }, /'src': upperBound 17 is above the job's maxParallelism 16/);
  refused({ out: p(2, 3) }, /'out' has the fixed parallelism 1/);
  refused({ src: p(1, 2), check: p(3, 4) }, /no parallelism in common/);
  t.end();
});
