/** The JobManager's slot pool: targets that change, and which slots it gives back. */
import t from "tap";
import { type AllocationId, slotId, type TaskManagerId } from "../../../components/core/mod.ts";
import { defineJob, sinks, sources } from "../../../components/dataflow/mod.ts";
import { SlotPool } from "../../../components/jobmanager/mod.ts";

const ANY = { cpu: 0, memoryMb: 0, extended: {} };
const graph = defineJob({ name: "pool", parallelism: 4 }, (env) =>
  env.source(sources.sequence({ keys: 4 })).sink(sinks.discard()),
).graph();
const slot = (tm: string, i: number) => ({
  slotId: slotId(tm as TaskManagerId, i),
  allocationId: `a-${tm}-${i}` as AllocationId,
  tmId: tm as TaskManagerId,
  tmSubject: `tm.${tm}`,
  profile: ANY,
});

t.test("a lower target leaves surplus slots, taken from the least used TaskManager first", (t) => {
  const pool = new SlotPool(graph);
  for (const s of [slot("a", 0), slot("a", 1), slot("a", 2), slot("b", 0)]) t.ok(pool.offer(s));
  t.notOk(pool.offer(slot("b", 1)), "a fifth slot is not wanted");
  t.ok(pool.complete());
  t.same(pool.surplus(), [], "nothing to give back at the target");

  pool.retarget([{ name: "default", slots: 2, profile: ANY }]);
  const surplus = pool.surplus().map((s) => s.slotId);
  t.same(surplus, ["b_0", "a_2"], "b's only slot first, so b becomes idle");
  for (const id of surplus) pool.remove(id);
  t.same(
    pool.inGroup("default").map((s) => s.slotId),
    ["a_0", "a_1"],
  );

  pool.retarget([{ name: "default", slots: 3, profile: ANY }]);
  t.notOk(pool.complete(), "a higher target wants more");
  t.ok(pool.offer(slot("c", 0)));
  t.ok(pool.complete());
  t.end();
});

t.test("wanted(): the new slots an offer would add, as offer() takes them", (t) => {
  const pool = new SlotPool(graph);
  t.ok(pool.offer(slot("a", 0)));
  const big = { cpu: 4, memoryMb: 0, extended: {} };
  pool.retarget([
    { name: "big", slots: 1, profile: big },
    { name: "default", slots: 3, profile: ANY },
  ]);
  const offered = [
    slot("a", 0), // held already: a re-offer, nothing to check
    { ...slot("a", 0), allocationId: "a-other" as AllocationId }, // held under another allocation
    slot("b", 0),
    slot("b", 0), // the same slot twice
    slot("b", 1),
    { ...slot("b", 2), profile: big },
    slot("b", 3), // no group has room left
  ];
  t.same(
    pool.wanted(offered).map((s) => s.slotId),
    ["b_0", "b_1", "b_2"],
    "each new slot once, while a group it fits has room",
  );
  t.ok(pool.isPooled(slot("a", 0)));
  t.notOk(pool.isPooled({ ...slot("a", 0), allocationId: "a-other" as AllocationId }));
  t.notOk(pool.isPooled(slot("b", 0)));
  t.end();
});
