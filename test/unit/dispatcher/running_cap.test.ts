/**
 * `dispatcher.max-running-jobs` on a MiniCluster with real jobs: at the cap a submission is
 * refused 429 naming the key, before any work; once a job ends the next one is taken.
 */
import t from "tap";
import { startMiniCluster } from "../../../components/cluster/mod.ts";
import { ENDED, miniRest } from "../../support/mini.ts";

const mini = await startMiniCluster({ dispatcher: { maxRunningJobs: 2 } });
t.teardown(() => mini.stop());
const rest = miniRest(mini);
const ENDLESS = "test/support/jobs/endless.ts";

t.test("at the cap a submission is 429; a job ending makes room", async (t) => {
  const first = await rest.submit(ENDLESS, {});
  await rest.submit(ENDLESS, {});
  const refused = await rest.submit(ENDLESS, {}).catch((err: unknown) => err);
  t.match(refused, {
    code: "TOO_MANY_REQUESTS",
    message: /2 jobs have not ended, the most dispatcher.max-running-jobs \(2\) allows/,
  });
  t.equal((await rest.jobs()).length, 2, "the refused one left no job behind");
  t.equal((await rest.call("PATCH", `/jobs/${first}?mode=cancel`)).status, 202);
  await rest.until("the first job ended", first, ENDED);
  const third = await rest.submit(ENDLESS, {});
  t.match(await rest.job(third), { jid: third });
});
