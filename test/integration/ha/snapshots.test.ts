/**
 * The runtime's checkpoints in the JetStream Object Store: a job stopped with a savepoint written
 * through blobSnapshotStore resumes from it, exactly once, in a fresh "process" (new connection).
 */
import t from "tap";
import { JobState } from "../../../components/core/mod.ts";
import { loadCheckpoint, runLocal } from "../../../components/dataflow/internal_mod.ts";
import { defineJob, sinks, sources } from "../../../components/dataflow/mod.ts";
import { blobSnapshotStore, natsBlobStore } from "../../../components/ha/mod.ts";
import { checkSequences } from "../../../examples/sequence-check.ts";
import { until } from "../../support/poll.ts";
import { exactlyOnce } from "../../support/sequence.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

t.test("savepoint into the object store, restore from it: exact counts", async (t) => {
  const server = await natsFor(t);
  const keys = 4;
  const perKey = 2000; // about 2 s of input at this rate: the stop lands well before its end
  const job = defineJob({ name: "sequence-check-ha", checkpointing: { intervalMs: 50 } }, (env) =>
    checkSequences(
      env.source(sources.sequence({ keys, perKey, ratePerSecond: 4000 })).uid("sequence"),
    ).sink(sinks.collect()),
  );

  const store = blobSnapshotStore(
    await natsBlobStore({ nc: await connectFor(t, server), clusterId: "test" }),
  );
  t.match(store.location, /flotilla_test_blobs/);
  const first = runLocal(job.graph({ parallelism: 2 }), { store });
  // A job left running would retry its checkpoints against a stopped server forever.
  t.teardown(() => first.cancel().catch(() => {}));
  await until(() => first.status().checkpoints >= 2, "two checkpoints", { intervalMs: 5 });
  const stopped = await first.stop();
  t.equal(stopped.state, JobState.FINISHED);
  const savepoint = stopped.savepoint!;
  t.match(savepoint, /^savepoints\//);

  const elsewhere = blobSnapshotStore(
    await natsBlobStore({ nc: await connectFor(t, server), clusterId: "test" }),
  );
  t.match(await loadCheckpoint(elsewhere, savepoint), {
    savepoint: true,
    jobName: "sequence-check-ha",
  });
  const second = runLocal(job.graph({ parallelism: 2 }), {
    store: elsewhere,
    restoreFrom: savepoint,
  });
  t.teardown(() => second.cancel().catch(() => {}));
  const result = await second.result;
  t.equal(result.state, JobState.FINISHED, String(result.error?.message ?? "finished"));
  // Across the restore: both runs' results together.
  const both = [...Object.values(stopped.results), ...Object.values(result.results)].flat();
  exactlyOnce(t, { both }, keys, perKey);
});
