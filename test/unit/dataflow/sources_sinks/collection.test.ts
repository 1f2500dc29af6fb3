/** sources.collection: one reader, index positions, timestamps. */
import t from "tap";
import { InvalidArgumentError } from "../../../../components/core/mod.ts";
import { sources } from "../../../../components/dataflow/sources/mod.ts";
import { testContext } from "../../../support/dataflow.ts";

t.test("reads the values in order in batches of at most max, then ends", async (t) => {
  const source = sources.collection(["a", "b", "c", "d", "e"]);
  t.equal(source.parallelism, 1);
  t.equal(source.bounded, true);
  const reader = source.createReader(testContext());
  t.same(await reader.poll(2), { values: ["a", "b"] });
  t.equal(reader.position(), 2);
  t.same(await reader.poll(10), { values: ["c", "d", "e"] });
  t.equal(await reader.poll(10), null);
  t.equal(reader.position(), 5);
});

t.test("a restored reader resumes at the checkpointed index", async (t) => {
  const source = sources.collection([1, 2, 3, 4]);
  const first = source.createReader(testContext());
  await first.poll(3);
  const second = source.createReader(testContext());
  await second.restore!([first.position()]);
  t.same(await second.poll(10), { values: [4] });
  t.equal(await second.poll(10), null);
});

t.test("timestamps from an array or a function, aligned with the values", async (t) => {
  const fromArray = sources.collection(["x", "y", "z"], { timestamps: [10, 20, 30] });
  const reader = fromArray.createReader(testContext());
  await reader.poll(1);
  t.same(await reader.poll(5), { values: ["y", "z"], timestamps: [20, 30] });

  const fromFn = sources.collection([{ at: 7 }, { at: 9 }], {
    timestamps: (v, i) => v.at * 100 + i,
  });
  t.same(await fromFn.createReader(testContext()).poll(5), {
    values: [{ at: 7 }, { at: 9 }],
    timestamps: [700, 901],
  });
});

t.test("an empty collection ends at once; bad arguments are typed errors", async (t) => {
  t.equal(await sources.collection([]).createReader(testContext()).poll(5), null);
  t.throws(() => sources.collection([1, 2], { timestamps: [1] }), InvalidArgumentError);
  t.throws(() => sources.collection("abc" as never), { message: /must be an array/ });
});
