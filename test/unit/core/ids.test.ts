import t from "tap";
import {
  attemptId,
  InvalidArgumentError,
  isJobId,
  newAllocationId,
  newJobId,
  newTaskManagerId,
  parseJobId,
  parseTaskManagerId,
  slotId,
  vertexHexId,
} from "../../../components/core/mod.ts";

t.test("job ids are 32 hex digits and unique", (t) => {
  const ids = new Set(Array.from({ length: 1000 }, () => newJobId()));
  t.equal(ids.size, 1000);
  t.same(
    [...ids].filter((id) => !isJobId(id)),
    [],
    "all well-formed",
  );
  t.end();
});

t.test(
  "parseJobId accepts a job id and rejects anything else with the value in the message",
  (t) => {
    const id = newJobId();
    t.equal(parseJobId(id), id);
    for (const bad of ["", "xyz", id.toUpperCase(), `${id}0`, 42, null]) {
      t.throws(() => parseJobId(bad), InvalidArgumentError, String(bad));
    }
    t.throws(() => parseJobId("nope"), /invalid job id "nope"/);
    t.end();
  },
);

t.test("runtime ids are subject-safe tokens", (t) => {
  const tm = newTaskManagerId();
  t.match(tm, /^tm-[0-9a-f]{12}$/);
  t.equal(parseTaskManagerId(tm), tm);
  t.match(newAllocationId(), /^alloc-[0-9a-f]{16}$/);
  t.equal(slotId(tm, 3), `${tm}_3`);
  t.equal(attemptId("v1", 2, 0), "v1_2_0");
  t.throws(
    () => parseTaskManagerId("a.b"),
    InvalidArgumentError,
    "dots would split a NATS subject",
  );
  t.throws(() => parseTaskManagerId("x".repeat(65)), InvalidArgumentError);
  t.end();
});

t.test("a vertex's REST id is 32 hex digits, stable, and distinct per vertex id", (t) => {
  t.match(vertexHexId("0-source"), /^[0-9a-f]{32}$/);
  t.equal(vertexHexId("3-window"), vertexHexId("3-window"), "the same on every call");
  const ids = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    ids.add(vertexHexId(`${i}-map`));
    ids.add(vertexHexId(`orders-${i}`));
  }
  t.equal(ids.size, 20_000, "no two of 20,000 vertex ids share one");
  t.end();
});
