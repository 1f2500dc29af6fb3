/** The import rules `npm run lint:deps` enforces, on dependency trees shaped like dpdm's. */
import t from "tap";
import { check, componentCycles } from "../../../scripts/check-deps.ts";

const dep = (id: string) => ({ id });

t.test("imports through mod.ts and internal_mod.ts, in one direction: no problem", (t) => {
  const problems = check({
    tree: {
      "components/rpc/client.ts": [dep("components/core/mod.ts"), dep("node_modules/hono/x.js")],
      "components/taskmanager/a.ts": [
        dep("components/dataflow/internal_mod.ts"),
        dep("components/taskmanager/b.ts"),
      ],
      "components/taskmanager/b.ts": [],
    },
    circulars: [],
  });
  t.same(problems, []);
  t.end();
});

t.test("a deep import into another component is named with the way to fix it", (t) => {
  const problems = check({
    tree: { "components/rpc/heartbeat.ts": [dep("components/core/clock.ts")] },
    circulars: [],
  });
  t.same(problems, [
    "components/rpc/heartbeat.ts imports components/core/clock.ts: go through components/core/mod.ts",
  ]);
  t.end();
});

t.test("circular imports between files and between components are both reported", (t) => {
  const problems = check({
    tree: {
      "components/dispatcher/dispatcher.ts": [dep("components/cluster/mod.ts")],
      "components/cluster/roles.ts": [dep("components/dispatcher/mod.ts")],
    },
    circulars: [["components/cli/a.ts", "components/cli/b.ts"]],
  });
  t.same(problems, [
    "circular import: components/cli/a.ts -> components/cli/b.ts",
    "components import each other in a circle: cluster -> dispatcher -> cluster",
  ]);
  t.end();
});

t.test("component cycles are found once each, however long", (t) => {
  const graph = new Map([
    ["a", new Set(["b"])],
    ["b", new Set(["c"])],
    ["c", new Set(["a", "d"])],
    ["d", new Set<string>()],
  ]);
  t.same(componentCycles(graph), [["a", "b", "c", "a"]]);
  t.end();
});
