/**
 * A stall ends in a restart, not a hung job: a task stuck in its operator's `open` lets no
 * checkpoint complete; past `checkpointing.tolerableFailures` expired checkpoints in a row the
 * JobManager fails the attempt and the job restarts from its latest checkpoint (Flink's
 * tolerable-failed-checkpoints). On the in-process MiniCluster.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { startMiniCluster } from "../../../components/cluster/mod.ts";
import { JobState } from "../../../components/core/mod.ts";
import { ENDED, miniRest } from "../../support/mini.ts";

t.test("checkpoints that keep expiring fail the attempt; the restart finishes", async (t) => {
  const mini = await startMiniCluster({ taskManagers: 1, slotsPerTaskManager: 2 });
  t.teardown(() => mini.stop());
  const { call, submit, until } = miniRest(mini);
  const marker = join(mkdtempSync(join(tmpdir(), "flotilla-stuck-")), "stuck");
  const jobId = await submit("test/support/jobs/stuck_once.ts", { marker });
  // Without the fix the job stays running for good: this wait is what fails then.
  const details = await until("the job to end", jobId, ENDED);
  t.equal(
    details.state,
    JobState.FINISHED,
    `finished, not stuck (${JSON.stringify(details.flotilla.error ?? details.state)})`,
  );
  t.equal(details.flotilla.restarts, 1, "one restart: the stuck attempt was failed");
  const results = (await call("GET", `/jobs/${jobId}/results`)).body as Record<string, number[]>;
  t.same(
    Object.values(results)
      .flat()
      .sort((a, b) => a - b),
    [10, 20, 30],
    "the restarted attempt's records",
  );
});
