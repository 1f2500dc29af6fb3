/**
 * `countByState` asks at most MAX_STATE_CALLS running jobs per count, the least recently asked
 * first, and its totals stay exact; `jobPage` orders ties by id so pages neither skip nor repeat.
 */
import t from "tap";
import { JobState, newJobId } from "../../../components/core/mod.ts";
import {
  countByState,
  jobPage,
  type Listed,
  MAX_STATE_CALLS,
} from "../../../components/dispatcher/job_listing.ts";

t.test("a count asks a bounded number of running jobs, the stalest first", async (t) => {
  const live = Array.from({ length: 100 }, (_, i) => ({
    i,
    lastState: JobState.CREATED as JobState,
  }));
  const asked: number[] = [];
  const refresh = async (job: (typeof live)[number]) => {
    asked.push(job.i);
    job.lastState = JobState.RUNNING;
    return job.lastState;
  };
  const first = await countByState(live, refresh, 2, { FINISHED: 3, CANCELED: 0, FAILED: 1 });
  t.equal(asked.length, MAX_STATE_CALLS, "at most MAX_STATE_CALLS calls");
  t.equal(first[JobState.RUNNING], MAX_STATE_CALLS);
  t.equal(
    first[JobState.CREATED],
    100 - MAX_STATE_CALLS + 2,
    "the rest as last seen, plus starting",
  );
  t.equal(first[JobState.FINISHED], 3);
  t.equal(first[JobState.FAILED], 1);
  asked.length = 0;
  const second = await countByState(live, refresh, 0, { FINISHED: 0, CANCELED: 0, FAILED: 0 });
  t.same(
    asked.slice(0, 100 - MAX_STATE_CALLS).sort((a, b) => a - b),
    live.slice(MAX_STATE_CALLS).map((j) => j.i),
    "the ones not asked last time come first",
  );
  t.equal(second[JobState.RUNNING], 100, "every job's state known after two counts");
});

t.test("pages of jobs submitted in the same millisecond neither skip nor repeat", async (t) => {
  const listed: Listed[] = Array.from({ length: 25 }, () => ({
    kind: "ended",
    result: {
      jobId: newJobId(),
      name: "n",
      state: JobState.FINISHED,
      restarts: 0,
      checkpoints: 0,
      submittedAt: 1000,
      finishedAt: 2000,
    },
  }));
  const seen: string[] = [];
  let after: string | undefined;
  do {
    const page = await jobPage([...listed], { limit: 4, ...(after ? { after } : {}) });
    seen.push(...page.jobs.map((j) => j.id));
    after = page.next;
  } while (after);
  t.equal(seen.length, 25);
  t.equal(new Set(seen).size, 25, "each once");
});
