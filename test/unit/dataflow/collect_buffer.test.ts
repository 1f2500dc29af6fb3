/**
 * A collect sink's subtask holds at most `collect-sink.max-records` values uncommitted: an endless
 * job without checkpoints (which would buffer forever) fails naming the key, and a job under the
 * limit hands back all it collected.
 */
import t from "tap";
import { configKeys, JobState } from "../../../components/core/mod.ts";
import { configureJobRuntime, runLocal } from "../../../components/dataflow/internal_mod.ts";
import { defineJob, sinks, sources } from "../../../components/dataflow/mod.ts";

const LIMIT = 100;
configureJobRuntime({
  "secrets.dir": configKeys["secrets.dir"].default,
  "artifact.cache-dir": "",
  "collect-sink.max-records": LIMIT,
});
t.teardown(() =>
  configureJobRuntime({
    "secrets.dir": configKeys["secrets.dir"].default,
    "artifact.cache-dir": "",
  }),
);

const job = (perKey?: number) =>
  defineJob({ name: "collect-buffer" }, (env) =>
    env
      .source(
        sources.sequence({ keys: 1, ratePerSecond: 1_000_000, ...(perKey ? { perKey } : {}) }),
      )
      .sink(sinks.collect()),
  );

t.test("endless input, no checkpoints: the subtask fails at the limit", async (t) => {
  const result = await runLocal(job().graph({})).result;
  t.equal(result.state, JobState.FAILED);
  t.match(result.error, {
    code: "PAYLOAD_TOO_LARGE",
    message: /holds 100 values not yet committed.*collect-sink\.max-records/,
  });
});

t.test("under the limit: every value handed back", async (t) => {
  const result = await runLocal(job(LIMIT).graph({})).result;
  t.equal(result.state, JobState.FINISHED);
  t.equal(Object.values(result.results).flat().length, LIMIT);
});
