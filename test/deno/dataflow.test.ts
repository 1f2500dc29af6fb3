/** The dataflow runtime under Deno: the examples through the local executor, same results as on Node. */
import assert from "node:assert/strict";
import { JobState } from "../../components/core/mod.ts";
import { runLocal } from "../../components/dataflow/internal_mod.ts";
import sequenceCheck from "../../examples/sequence-check.ts";
import windowed from "../../examples/windowed-counts.ts";
import wordcount from "../../examples/wordcount.ts";

const rows = (r: { results: Record<string, unknown[]> }) => Object.values(r.results).flat();

Deno.test("wordcount example counts every word once", async () => {
  const result = await runLocal(wordcount.graph()).result;
  assert.equal(result.state, JobState.FINISHED);
  const counts = new Map(
    (rows(result) as { word: string; count: number }[]).map((r) => [r.word, r.count]),
  );
  assert.equal(counts.get("to"), 13);
  assert.equal(
    [...counts.values()].reduce((a, b) => a + b, 0),
    86,
  );
});

Deno.test("windowed counts: late reading dropped, out-of-order ones kept", async () => {
  const result = await runLocal(windowed.graph()).result;
  const got = (rows(result) as { sensor: string; from: number; readings: number }[])
    .map((r) => `${r.sensor}@${r.from}=${r.readings}`)
    .sort();
  assert.deepEqual(got, ["a@0=3", "a@10000=1", "a@5000=1", "b@0=1", "b@10000=1", "b@5000=1"]);
});

Deno.test("sequence check with checkpoints: no alert, full counts", async () => {
  const result = await runLocal(
    sequenceCheck.graph({ args: { keys: "4", perKey: "400", rate: "20000" } }),
  ).result;
  assert.equal(result.state, JobState.FINISHED);
  const counts = (rows(result) as { kind: string; key: number; count: number }[]).sort(
    (a, b) => a.key - b.key,
  );
  assert.deepEqual(
    counts,
    Array.from({ length: 4 }, (_, key) => ({ kind: "count", key, count: 400 })),
  );
  assert.ok(result.checkpoints >= 1, `${result.checkpoints} checkpoints`);
});
