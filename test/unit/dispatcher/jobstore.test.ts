/**
 * The Dispatcher keeps ended jobs by count and age (`jobstore.max-capacity`,
 * `jobstore.expiration-time`) on a MiniCluster with real short jobs: past the capacity the oldest
 * answer 404 "expired", `GET /jobs` pages through exactly the kept ones, /overview and /metrics
 * count them, and the expiry timer (a manual clock) forgets those past the expiration.
 */
import t from "tap";
import { startMiniCluster } from "../../../components/cluster/mod.ts";
import { JobState } from "../../../components/core/mod.ts";
import type {
  ClusterOverviewWithVersion,
  JobIdsWithStatusOverview,
} from "../../../components/protocol/mod.ts";
import { ManualClock } from "../../support/clock.ts";
import { ENDED, miniRest } from "../../support/mini.ts";

const CAPACITY = 40;
const JOBS = 50;
const PAGE = 7;
const EXPIRATION_MS = 60_000;

const clock = new ManualClock();
const mini = await startMiniCluster({
  dispatcher: { jobStore: { maxCapacity: CAPACITY, expirationMs: EXPIRATION_MS }, clock },
});
t.teardown(() => mini.stop());
const rest = miniRest(mini);

/** Every page of `GET /jobs?limit=`, following `next`. */
async function allPages(
  limit: number,
): Promise<{ pages: JobIdsWithStatusOverview[]; ids: string[] }> {
  const pages: JobIdsWithStatusOverview[] = [];
  let after: string | undefined;
  do {
    const query = `limit=${limit}${after ? `&after=${after}` : ""}`;
    const page = await rest.call("GET", `/jobs?${query}`);
    if (page.status !== 200) throw new Error(`GET /jobs?${query}: ${JSON.stringify(page.body)}`);
    pages.push(page.body as JobIdsWithStatusOverview);
    after = (page.body as JobIdsWithStatusOverview).next;
  } while (after);
  return { pages, ids: pages.flatMap((p) => p.jobs.map((j) => j.id)) };
}

const submitted: string[] = [];
for (let i = 0; i < JOBS; i++) {
  const jobId = await rest.submit("test/support/jobs/collect_all.ts", { perKey: "3" });
  await rest.until(`job ${i} ended`, jobId, ENDED);
  submitted.push(jobId);
  // Distinct submission times, so "newest first" has one answer.
  await clock.advance(1);
}
const kept = submitted.slice(JOBS - CAPACITY);
const expired = submitted.slice(0, JOBS - CAPACITY);

t.test("past the capacity the oldest ended jobs are forgotten", async (t) => {
  for (const jobId of expired) {
    const res = await rest.call("GET", `/jobs/${jobId}`);
    t.equal(res.status, 404, `${jobId} is gone`);
    t.match(res.body, { code: "JOB_NOT_FOUND", errors: [/ended and was expired.*jobstore/] });
    t.equal((await rest.call("GET", `/jobs/${jobId}/results`)).status, 404);
  }
  for (const jobId of kept) {
    t.match(await rest.job(jobId), { state: JobState.FINISHED }, `${jobId} is kept`);
    const values = Object.values(await rest.results(jobId)).flat();
    t.equal(values.length, 3, "with its collected results");
  }
  const never = await rest.call("GET", `/jobs/${"0".repeat(32)}`);
  t.match(never.body, { code: "JOB_NOT_FOUND", errors: [/^no job/] }, "unknown is not expired");
});

t.test("GET /jobs pages through exactly the kept jobs, newest first", async (t) => {
  const { pages, ids } = await allPages(PAGE);
  t.same(ids, [...kept].reverse(), "every kept job once, newest first");
  t.same(
    pages.map((p) => p.jobs.length),
    [7, 7, 7, 7, 7, 5],
  );
  t.notOk(pages.at(-1)?.next, "the last page has no next");
  const first = await rest.call("GET", "/jobs");
  t.same(
    (first.body as JobIdsWithStatusOverview).jobs.map((j) => j.id),
    [...kept].reverse(),
    "without a query: the first 100",
  );
  t.notOk((first.body as JobIdsWithStatusOverview).next);
});

t.test("bad queries of GET /jobs are 400 and name what was wrong", async (t) => {
  for (const [query, why] of [
    ["limit=0", /limit/],
    ["limit=1001", /limit/],
    ["limit=ten", /limit/],
    ["after=xyz", /after/],
    ["color=red", /color|unrecognized/i],
  ] as const) {
    const res = await rest.call("GET", `/jobs?${query}`);
    t.equal(res.status, 400, query);
    t.match(JSON.stringify(res.body), why, `${query} names the problem`);
  }
  const gone = await rest.call("GET", `/jobs?after=${expired[0]}`);
  t.equal(gone.status, 400, "after an expired job");
  t.match(gone.body, { errors: [/no longer lists that job.*first page/] });
});

t.test("/overview and /metrics count the kept jobs", async (t) => {
  const overview = (await rest.call("GET", "/overview")).body as ClusterOverviewWithVersion;
  t.equal(overview["jobs-finished"], CAPACITY);
  t.equal(overview["jobs-running"], 0);
  const metrics = (await rest.call("GET", "/metrics")).body as string;
  t.match(metrics, `flotilla_jobs{state="FINISHED"} ${CAPACITY}\n`);
});

t.test("past the expiration the timer forgets every ended job", async (t) => {
  await clock.advance(EXPIRATION_MS + 60_000);
  const { ids } = await allPages(10);
  t.same(ids, [], "nothing listed");
  for (const jobId of kept)
    t.match((await rest.call("GET", `/jobs/${jobId}`)).body, {
      errors: [/ended and was expired/],
    });
  const overview = (await rest.call("GET", "/overview")).body as ClusterOverviewWithVersion;
  t.equal(overview["jobs-finished"], 0);
});
