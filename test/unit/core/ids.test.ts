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
