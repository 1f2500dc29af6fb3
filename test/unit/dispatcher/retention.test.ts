/**
 * A term's retention on real (memory) HA stores: the ended jobs it reads past the jobstore's
 * capacity leave the HA stores (graph record, then result), so the next term does not read them.
 */
import t from "tap";
import { dispatcherStores } from "../../../components/cluster/mod.ts";
import { JobState, silentLogger } from "../../../components/core/mod.ts";
import { dispatcherRetention } from "../../../components/dispatcher/retention.ts";
import { memoryHaServices } from "../../../components/ha/mod.ts";
import { ManualClock } from "../../support/clock.ts";
import { until } from "../../support/poll.ts";

t.test("results past the capacity are removed from the HA stores", async (t) => {
  const clock = new ManualClock();
  const stores = dispatcherStores(memoryHaServices());
  for (let i = 0; i < 5; i++) {
    const jobId = `job-${i}`;
    await stores.jobs.put({ jobId, name: "n", artifact: "a".repeat(64), args: {}, submittedAt: i });
    await stores.results.put({
      jobId,
      name: "n",
      state: JobState.FINISHED,
      restarts: 0,
      checkpoints: 0,
      submittedAt: i,
      finishedAt: clock.now() + i,
    });
  }
  const retention = dispatcherRetention(
    { jobStore: { maxCapacity: 2 } },
    { stores, artifactsInUse: async () => new Set(), clock, log: silentLogger },
  );
  t.teardown(() => retention.stop());
  await retention.whenLoaded();
  t.same(
    [...retention.ended.list()].map((r) => r.jobId),
    ["job-3", "job-4"],
    "the newest 2 kept",
  );
  t.equal(await retention.endedJob("job-0"), undefined);
  t.match(retention.forgotten("job-0").message, /ended and was expired/);
  t.match(retention.forgotten("job-9").message, /^no job job-9/);
  // The expiry starts the HA removals without awaiting them: done when the store shows it.
  await until(
    async () => (await stores.results.list()).length === 2,
    "the expired results left the HA store",
  );
  t.same(
    (await stores.results.list()).map((r) => r.jobId),
    ["job-3", "job-4"],
    "expired results left the HA store",
  );
  t.same(
    (await stores.jobs.list()).map((r) => r.jobId).sort(),
    ["job-3", "job-4"],
    "and their graph records first",
  );
});
