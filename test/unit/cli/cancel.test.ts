/**
 * `flotilla cancel` waits for the job to end only as long as `client.cancel-timeout` says: a job
 * whose task ignores the cancel (stuck in `open`) while the cluster waits a minute for it gives a
 * progress line, then one clear TIMEOUT error naming the job, its state and what to do.
 */

import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import type { Output } from "../../../components/cli/io.ts";
import { cancel } from "../../../components/cli/job_control.ts";
import { startMiniCluster } from "../../../components/cluster/mod.ts";
import { compileConfig, JobState } from "../../../components/core/mod.ts";
import { bundleJob } from "../../../components/dataflow/internal_mod.ts";
import { serveHttp, unwrap } from "../../../components/rpc/mod.ts";
import { until } from "../../support/poll.ts";

t.test("cancel gives up after client.cancel-timeout, saying so", async (t) => {
  const mini = await startMiniCluster({
    // The cluster waits a minute for the stuck task: far beyond the client's patience.
    deadlines: {
      rpc: { timeoutMs: 5000, attemptTimeoutMs: 1000 },
      taskCancellationTimeoutMs: 60_000,
    },
  });
  t.teardown(() => mini.stop());
  const http = await serveHttp(mini.rest, { port: 0, hostname: "127.0.0.1" });
  t.teardown(() => http.close());

  const marker = join(await mkdtemp(join(tmpdir(), "flotilla-cancel-")), "stuck");
  const bytes = new Uint8Array(await bundleJob("test/support/jobs/stuck_once.ts"));
  const { artifact } = await unwrap(
    mini.client.artifacts.$post(undefined, { init: { body: bytes } }),
  );
  const { jobId } = await unwrap(mini.client.jobs.$post({ json: { artifact, args: { marker } } }));
  await until(() => existsSync(marker), "the task stuck in open()");

  const config = compileConfig({
    env: {},
    flags: { "cluster.address": http.url, "client.cancel-timeout": "5500ms" },
  });
  const lines: string[] = [];
  const out: Output = { json: false, line: (l) => lines.push(l), event: () => {} };
  await t.rejects(cancel(jobId, {}, out, config), {
    code: "TIMEOUT",
    message: new RegExp(
      `job ${jobId} was canceled but did not end within 6 s \\(it is CANCELLING\\): 'flotilla status ${jobId}' shows what it waits for; wait longer with --timeout`,
    ),
  });
  t.match(lines, [new RegExp(`^${jobId} CANCELLING: waiting for it to end \\(5 s of 6 s\\)$`)]);
  t.equal(
    (await unwrap(mini.client.jobs[":jobid"].$get({ param: { jobid: jobId } }))).state,
    JobState.CANCELING,
  );
});
