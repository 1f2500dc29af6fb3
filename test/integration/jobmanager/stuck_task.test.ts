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
import { bundleJob } from "../../../components/dataflow/internal_mod.ts";

t.test("checkpoints that keep expiring fail the attempt; the restart finishes", async (t) => {
  const mini = await startMiniCluster({ taskManagers: 1, slotsPerTaskManager: 2 });
  t.teardown(() => mini.stop());
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await mini.rest.request(path, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    });
    return (await res.json()) as any;
  };
  const { artifact } = await (
    await mini.rest.request("/artifacts", {
      method: "POST",
      body: (await bundleJob("test/support/jobs/stuck_once.ts")) as BodyInit,
    })
  ).json();
  const marker = join(mkdtempSync(join(tmpdir(), "flotilla-stuck-")), "stuck");
  const { jobId } = await call("POST", "/jobs", { artifact, args: { marker } });

  const deadline = Date.now() + 30_000;
  let details: any;
  for (;;) {
    details = await call("GET", `/jobs/${jobId}`);
    if (["finished", "failed", "canceled"].includes(details.state)) break;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(
    details.state,
    "finished",
    `finished, not stuck (${JSON.stringify(details.error ?? details.state)})`,
  );
  t.equal(details.restarts, 1, "one restart: the stuck attempt was failed");
  const results = (await call("GET", `/jobs/${jobId}/results`)) as Record<string, number[]>;
  t.same(
    Object.values(results)
      .flat()
      .sort((a, b) => a - b),
    [10, 20, 30],
    "the restarted attempt's records",
  );
});
