/**
 * `collect-sink.max-records` on a MiniCluster with real jobs: a job whose collect sinks hand back
 * exactly the cap finishes with every value; one more fails the job, without a restart although
 * its strategy allows three, with an error naming the cap and its key.
 */
import t from "tap";
import { startMiniCluster } from "../../../components/cluster/mod.ts";
import { JobState } from "../../../components/core/mod.ts";
import { ENDED, miniRest } from "../../support/mini.ts";

const CAP = 50;
const mini = await startMiniCluster({ dispatcher: { collectMaxRecords: CAP } });
t.teardown(() => mini.stop());
const rest = miniRest(mini);
const JOB = "test/support/jobs/collect_all.ts";

t.test("at the cap: finished, every value handed back", async (t) => {
  const jobId = await rest.submit(JOB, { keys: "2", perKey: String(CAP / 2) });
  t.match(await rest.until("the job ended", jobId, ENDED), { state: JobState.FINISHED });
  t.equal(Object.values(await rest.results(jobId)).flat().length, CAP);
});

t.test("past the cap: failed, not restarted, the error names the cap and its key", async (t) => {
  const jobId = await rest.submit(JOB, { keys: "1", perKey: String(CAP + 1) });
  const ended = await rest.until("the job ended", jobId, ENDED);
  t.equal(ended.state, JobState.FAILED);
  t.equal(ended.flotilla.restarts, 0, "a restart would hit the cap again");
  t.match(ended.flotilla.error, {
    code: "PAYLOAD_TOO_LARGE",
    message: new RegExp(`more than ${CAP} values.*collect-sink\\.max-records`),
  });
});
