/**
 * `flotilla savepoint` polls Flink's asynchronous operation: a savepoint the job cannot take (its
 * bounded source already ended while a task is stuck in `open`, so the job stays RUNNING) ends in
 * the operation's failure cause, thrown as one typed error with the cause's code, naming the job:
 * not a hang, not a path.
 */
import t from "tap";
import type { Output } from "../../../components/cli/io.ts";
import { savepoint } from "../../../components/cli/job_control.ts";
import { startMiniCluster } from "../../../components/cluster/mod.ts";
import { compileConfig, JobState } from "../../../components/core/mod.ts";
import { bundleJob } from "../../../components/dataflow/internal_mod.ts";
import { serveHttp, unwrap } from "../../../components/rpc/mod.ts";
import { until } from "../../support/poll.ts";

t.test("a savepoint that fails is a typed error with the operation's cause", async (t) => {
  const mini = await startMiniCluster({
    deadlines: { rpc: { timeoutMs: 5000, attemptTimeoutMs: 1000 }, taskCancellationTimeoutMs: 500 },
  });
  t.teardown(() => mini.stop());
  const http = await serveHttp(mini.rest, { port: 0, hostname: "127.0.0.1" });
  t.teardown(() => http.close());

  const bytes = new Uint8Array(await bundleJob("test/support/jobs/stuck_open.ts"));
  const { artifact } = await unwrap(
    mini.client.artifacts.$post(undefined, { init: { body: bytes } }),
  );
  const { jobId } = await unwrap(mini.client.jobs.$post({ json: { artifact, args: {} } }));
  await until(
    async () =>
      (await unwrap(mini.client.jobs[":jobid"].$get({ param: { jobid: jobId } }))).state ===
      JobState.RUNNING,
    "the job running",
  );

  const config = compileConfig({ env: {}, flags: { "cluster.address": http.url } });
  const lines: string[] = [];
  const out: Output = { json: false, line: (l) => lines.push(l), event: () => {} };
  await t.rejects(savepoint(jobId, {}, out, config), {
    code: "CONFLICT",
    message: new RegExp(`^the savepoint of job ${jobId} failed: the job's input has ended`),
  });
  t.same(lines, [], "no path printed");
  t.equal(
    (await unwrap(mini.client.jobs[":jobid"].$get({ param: { jobid: jobId } }))).state,
    JobState.RUNNING,
    "the failed savepoint leaves the job running",
  );
});
