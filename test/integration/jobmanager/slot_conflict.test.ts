/**
 * A slot the TaskManager no longer holds for the job (freed behind the JobManager's back while
 * the job waits to restart) answers the next deployment with CONFLICT: the JobManager drops it
 * and asks the ResourceManager for a slot again, instead of deploying on it until the restart
 * strategy runs out. On the in-process MiniCluster (the same blocks and protocols as a cluster).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { startMiniCluster } from "../../../components/cluster/mod.ts";
import { JobState, subjects } from "../../../components/core/mod.ts";
import { send } from "../../../components/rpc/mod.ts";
import { ENDED, miniRest } from "../../support/mini.ts";

t.test("a deployment refused with CONFLICT drops the slot and declares again", async (t) => {
  const mini = await startMiniCluster({
    taskManagers: 1,
    slotsPerTaskManager: 2,
    heartbeatIntervalMs: 200,
  });
  t.teardown(() => mini.stop());
  const { call, submit, until } = miniRest(mini);
  const marker = join(mkdtempSync(join(tmpdir(), "flotilla-conflict-")), "failed");
  const jobId = await submit("test/support/jobs/fails_once.ts", { marker });
  await until("restart", jobId, (d) => d.state === JobState.RESTARTING);

  // The restart waits 1.5 s: meanwhile the TaskManager frees the job's slot.
  const tm = mini.fabric.transportFor(subjects.taskManager("mini", mini.taskManagers[0]!.tmId));
  const slots = JSON.parse(
    new TextDecoder().decode((await send(tm, { method: "GET", path: "/slots", headers: {} })).body),
  ) as { slotId: string; allocationId?: string; jobId?: string }[];
  const held = slots.find((s) => s.jobId === jobId);
  t.ok(held?.allocationId, "the job holds a slot while it waits to restart");
  const freed = await send(tm, {
    method: "POST",
    path: `/slots/${held!.slotId}/free`,
    headers: { "content-type": "application/json" },
    body: new TextEncoder().encode(JSON.stringify({ allocationId: held!.allocationId })),
  });
  t.equal(freed.status, 200, "freed on the TaskManager");

  const end = await until("the end", jobId, ENDED);
  t.equal(
    end.state,
    JobState.FINISHED,
    `the job finished (${end.flotilla.error?.message ?? "no error"})`,
  );
  t.equal(end.flotilla.restarts, 2, "one restart for the failure, one for the refused deployment");
  const results = (await call("GET", `/jobs/${jobId}/results`)).body as Record<string, number[]>;
  t.same(Object.values(results), [[10, 20, 30]], "the restarted attempt's records");
});
