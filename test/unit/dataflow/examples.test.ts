/** The examples, run the way `npm start` and the CLI run them, against hand-computed results. */
import t from "tap";
import { JobState } from "../../../components/core/mod.ts";
import { runLocal } from "../../../components/dataflow/internal_mod.ts";
import sequenceCheck from "../../../examples/sequence-check.ts";
import windowed from "../../../examples/windowed-counts.ts";
import wordcount from "../../../examples/wordcount.ts";

const results = (r: { results: Record<string, unknown[]> }) => Object.values(r.results).flat();

t.test("wordcount counts every word of the text once", async (t) => {
  const result = await runLocal(wordcount.graph()).result;
  t.equal(result.state, JobState.FINISHED);
  const rows = results(result) as { word: string; count: number }[];
  const counts = new Map(rows.map((r) => [r.word, r.count]));
  // Hand-counted in examples/data/words.txt.
  t.equal(counts.get("to"), 13);
  t.equal(counts.get("sleep"), 4);
  t.equal(counts.get("the"), 6);
  t.equal(counts.get("'tis"), 2);
  t.equal(rows.length, counts.size, "one line per word");
  t.equal(
    rows.reduce((n, r) => n + r.count, 0),
    86,
    "every word of the text counted once",
  );
});

t.test("windowed counts: out-of-order on time, late dropped and counted", async (t) => {
  const handle = runLocal(windowed.graph());
  const result = await handle.result;
  const rows = (results(result) as { sensor: string; from: number; readings: number }[])
    .map((r) => `${r.sensor}@${r.from}=${r.readings}`)
    .sort();
  t.same(rows, ["a@0=3", "a@10000=1", "a@5000=1", "b@0=1", "b@10000=1", "b@5000=1"]);
});

t.test("sequence-check finishes with no alert and every key's full count", async (t) => {
  const result = await runLocal(
    sequenceCheck.graph({ args: { keys: "6", perKey: "300", rate: "20000" } }),
  ).result;
  t.equal(result.state, JobState.FINISHED);
  t.same(
    (results(result) as { kind: string; key: number; count: number }[]).sort(
      (a, b) => a.key - b.key,
    ),
    Array.from({ length: 6 }, (_, key) => ({ kind: "count", key, count: 300 })),
  );
});
