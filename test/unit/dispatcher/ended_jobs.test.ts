/**
 * The Dispatcher's jobstore (EndedJobs) alone, at Flink's default size: 1,200 ended jobs with
 * capacity 1,000 keep the newest 1,000; each expiry run does bounded work; expired jobs are
 * forgotten in the HA stores and remembered as expired; counts follow; a manual clock ages them.
 */
import t from "tap";
import { JobState, silentLogger } from "../../../components/core/mod.ts";
import { EndedJobs } from "../../../components/dispatcher/ended_jobs.ts";
import type { JobResultRecord } from "../../../components/dispatcher/mod.ts";
import { MAX_EXPIRED_PER_RUN } from "../../../components/dispatcher/mod.ts";
import { ManualClock } from "../../support/clock.ts";

const result = (i: number, at: number, state: JobResultRecord["state"] = JobState.FINISHED) => ({
  jobId: `job-${i}`,
  name: "n",
  state,
  restarts: 0,
  checkpoints: 0,
  submittedAt: at,
  finishedAt: at,
});

function jobstore(clock: ManualClock, options = {}) {
  const forgotten: string[] = [];
  const store = new EndedJobs(
    { maxCapacity: 1000, expirationMs: 3_600_000, ...options },
    {
      clock,
      log: silentLogger,
      forget: async (jobId) => void forgotten.push(jobId),
    },
  );
  return { store, forgotten };
}

t.test(
  "1,200 ended jobs, capacity 1,000: the oldest 200 go, at most a run's worth at a time",
  async (t) => {
    const clock = new ManualClock();
    const { store, forgotten } = jobstore(clock);
    for (let i = 0; i < 1200; i++)
      store.add(result(i, clock.now(), i % 3 === 0 ? JobState.FAILED : JobState.FINISHED), {
        results: {},
      });
    t.equal(store.size, 1000, "never more than the capacity after an insertion's expiry");
    t.equal(forgotten.length, 200);
    t.same(forgotten.slice(0, 3), ["job-0", "job-1", "job-2"], "oldest first");
    t.ok(store.wasExpired("job-0"));
    t.notOk(store.wasExpired("job-200"));
    t.equal(store.get("job-199"), undefined);
    t.ok(store.get("job-200"));
    t.equal(store.counts().FAILED + store.counts().FINISHED, 1000, "the counts follow");
    t.equal(
      store.counts().FAILED,
      [...store.list()].filter((r) => r.state === JobState.FAILED).length,
    );
  },
);

t.test("a big backlog read from the stores is expired a bounded run at a time", async (t) => {
  const clock = new ManualClock();
  const { store, forgotten } = jobstore(clock);
  store.load(
    Array.from({ length: 1000 + 2 * MAX_EXPIRED_PER_RUN + 10 }, (_, i) => result(i, clock.now())),
  );
  t.equal(store.expire().length, MAX_EXPIRED_PER_RUN, "one run");
  t.equal(store.expire().length, MAX_EXPIRED_PER_RUN, "the next goes on");
  t.equal(store.expire().length, 10);
  t.equal(store.expire().length, 0);
  t.equal(store.size, 1000);
  t.equal(forgotten.length, 2 * MAX_EXPIRED_PER_RUN + 10);
});

t.test("jobs older than the expiration go; newer ones and their leftovers stay", async (t) => {
  const clock = new ManualClock();
  const { store } = jobstore(clock, { expirationMs: 60_000, retainedResults: 2 });
  store.add(result(1, clock.now()), { results: { s: [1] } });
  await clock.advance(30_000);
  store.add(result(2, clock.now()), { results: { s: [2] } });
  store.add(result(3, clock.now()), { results: { s: [3] } });
  t.equal(store.leftovers("job-1"), undefined, "only the newest 2 keep what they collected");
  t.same(store.leftovers("job-3")?.results, { s: [3] });
  await clock.advance(30_001);
  t.same(store.expire(), ["job-1"]);
  t.same(
    [...store.list()].map((r) => r.jobId),
    ["job-2", "job-3"],
  );
  await clock.advance(30_000);
  t.same(store.expire(), ["job-2", "job-3"]);
  t.equal(store.leftovers("job-3"), undefined, "leftovers go with the job");
  t.same(store.counts(), { FINISHED: 0, CANCELED: 0, FAILED: 0 });
});
