/**
 * `flotilla run` against a busy cluster: a submission refused with 429 (nothing was done) is
 * submitted again with backoff, each retry told, until the cluster takes it. The busy cluster is
 * a MiniCluster behind a front that refuses the first two submissions: a flood that refuses
 * exactly two cannot be made on purpose (the attack suite makes real ones).
 */
import t from "tap";
import { remoteCluster } from "../../../components/cli/cluster_api.ts";
import { startMiniCluster } from "../../../components/cluster/mod.ts";
import { ErrorCode, FlotillaError } from "../../../components/core/mod.ts";
import { bundleJob } from "../../../components/dataflow/internal_mod.ts";
import { serveHttp, unwrap } from "../../../components/rpc/mod.ts";

t.test("a submission refused 429 is retried until the cluster takes it", async (t) => {
  const mini = await startMiniCluster();
  t.teardown(() => mini.stop());
  let refusals = 2;
  const busy = new FlotillaError(ErrorCode.TOO_MANY_REQUESTS, "16 submissions are in progress");
  const front = {
    fetch: (request: Request) =>
      request.method === "POST" && new URL(request.url).pathname === "/jobs" && refusals-- > 0
        ? Response.json(busy.toWire(), { status: 429 })
        : mini.rest.fetch(request),
  };
  const http = await serveHttp(front, { port: 0, hostname: "127.0.0.1" });
  t.teardown(() => http.close());

  const cluster = remoteCluster(http.url);
  t.teardown(() => cluster.close());
  const { artifact } = await cluster.upload(
    new Uint8Array(await bundleJob("test/support/jobs/endless.ts")),
  );
  const told: string[] = [];
  const { jobId } = await cluster.submit({ artifact, args: {} }, (why) => told.push(why));
  t.same(told, [busy.message, busy.message], "each refusal was told");
  t.match(await unwrap(mini.client.jobs[":jobid"].$get({ param: { jobid: jobId } })), {
    jid: jobId,
  });
  t.match(await cluster.jobs(), [{ jid: jobId }], "listed");
});
