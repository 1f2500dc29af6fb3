/**
 * A job recovered by the next leader: the first Dispatcher (term token 3) runs it and loses its
 * leadership (suspends its JobManager, no result); the next (token 7) recovers it from the HA
 * stores, its attempts numbered from its token, above any the first one deployed, and it runs
 * to its end there. In-process: real ResourceManager, TaskManager and JobManagers, memory HA.
 */
import t from "tap";
import { dispatcherStores, localFabric } from "../../../components/cluster/mod.ts";
import { compileConfig, isJobEnd, JobState } from "../../../components/core/mod.ts";
import { bundleJob } from "../../../components/dataflow/internal_mod.ts";
import {
  ATTEMPTS_PER_TERM,
  createDispatcher,
  dispatcherApp,
  type GraphBuilder,
  inProcessGraphBuilder,
} from "../../../components/dispatcher/mod.ts";
import { memoryHaServices } from "../../../components/ha/mod.ts";
import { jobManagerDeadlinesFrom } from "../../../components/jobmanager/mod.ts";
import type { DispatcherApp, JobDetailsInfo } from "../../../components/protocol/mod.ts";
import { createResourceManager, staticDriver } from "../../../components/resourcemanager/mod.ts";
import { createClient, localTransport, unwrap } from "../../../components/rpc/mod.ts";
import { createTaskManager } from "../../../components/taskmanager/mod.ts";
import { until } from "../../support/poll.ts";
import { exactlyOnce } from "../../support/sequence.ts";

const clusterId = "recovery";
const deadlines = jobManagerDeadlinesFrom(compileConfig({ env: {} }));
const fabric = localFabric();
const stores = dispatcherStores(memoryHaServices());
const heartbeat = { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1000 };

const rm = createResourceManager({
  transportFor: fabric.transportFor,
  clusterId,
  token: 1,
  driver: staticDriver(),
  config: heartbeat,
});
const rmServed = fabric.serve(rm.subject, rm.app);
await rm.start();
const tm = createTaskManager({
  clusterId,
  transportFor: fabric.transportFor,
  channelsFor: fabric.channelsFor,
  artifacts: stores.blobs,
  snapshots: stores.snapshots,
  slots: Array.from({ length: 4 }, () => ({ cpu: 0, memoryMb: 0, extended: {} })),
  rpc: deadlines.rpc,
  ...heartbeat,
});
const tmServed = fabric.serve(tm.subject, tm.app);
tm.start();
t.teardown(async () => {
  await tm.stop();
  await tmServed.stop();
  await rm.stop();
  await rmServed.stop();
});
await tm.whenRegistered(deadlines.rpc.timeoutMs);

/** A Dispatcher of the leadership term with fencing token `term`, and its typed REST client. */
function leader(term: number, buildGraph?: GraphBuilder) {
  const dispatcher = createDispatcher({
    clusterId,
    fabric,
    stores,
    term,
    deadlines,
    ...(buildGraph ? { buildGraph } : {}),
  });
  const client = createClient<DispatcherApp>(localTransport(dispatcherApp(dispatcher)));
  const details = (jobId: string) =>
    unwrap(client.jobs[":jobid"].$get({ param: { jobid: jobId } }));
  const running = (jobId: string) =>
    until(
      async () => {
        const d = await details(jobId);
        return d.state === JobState.RUNNING && d.flotilla.checkpoints > 0 ? d : undefined;
      },
      `job ${jobId} running with a checkpoint under term ${term}`,
      { timeoutMs: 30_000 },
    );
  return { dispatcher, client, details, running };
}

t.test("the next leader recovers a job with attempts above the last leader's", async (t) => {
  const first = leader(3);
  const bytes = new Uint8Array(await bundleJob("examples/sequence-check.ts"));
  const { artifact } = await unwrap(
    first.client.artifacts.$post(undefined, { init: { body: bytes } }),
  );
  const args = { keys: "2", perKey: "3000", rate: "1500" };
  const { jobId } = await unwrap(first.client.jobs.$post({ json: { artifact, args } }));
  const before: JobDetailsInfo = await first.running(jobId);
  t.equal(before.flotilla.attempt, 0, "a new job starts at attempt 0");

  // Leadership lost: its JobManager stops acting, without a result; its tasks run on meanwhile.
  await first.dispatcher.suspend();

  const next = leader(7);
  t.same(await next.dispatcher.recover(), [jobId], "the job without a result is recovered");
  const after = await next.running(jobId);
  t.equal(after.flotilla.attempt, 7 * ATTEMPTS_PER_TERM, "its first attempt is the term's");
  t.ok(
    after.flotilla.attempt! > before.flotilla.attempt!,
    "above every attempt the last leader deployed",
  );

  const ended = await until(
    async () => {
      const d = await next.details(jobId);
      return isJobEnd(d.state) ? d : undefined;
    },
    "the recovered job's end",
    { timeoutMs: 60_000 },
  );
  t.equal(ended.state, JobState.FINISHED, JSON.stringify(ended.flotilla.error));
  exactlyOnce(
    t,
    await unwrap(next.client.jobs[":jobid"].results.$get({ param: { jobid: jobId } })),
    2,
    3000,
  );
  await next.dispatcher.suspend();
});

t.test(
  "while a recovered job's graph is built, it is starting (503, listed), not unknown",
  async (t) => {
    const first = leader(11);
    const bytes = new Uint8Array(await bundleJob("examples/sequence-check.ts"));
    const { artifact } = await unwrap(
      first.client.artifacts.$post(undefined, { init: { body: bytes } }),
    );
    const args = { keys: "2", perKey: "2000", rate: "2000" };
    const { jobId } = await unwrap(first.client.jobs.$post({ json: { artifact, args } }));
    await first.running(jobId);
    await first.dispatcher.suspend();

    // The next leader's graph building waits for the test, as a sandbox's process start does.
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const build = inProcessGraphBuilder();
    const next = leader(13, async (request) => {
      await gate;
      return build(request);
    });
    const recovering = next.dispatcher.recover();
    // From the call on (the roles make it before their first request is read), a job not running
    // yet may be one being recovered: a retryable 503, never a 404.
    const refusal = await next.details(jobId).then(
      () => undefined,
      (err: { code?: string; message: string }) => err,
    );
    t.equal(refusal?.code, "UNAVAILABLE", "a retryable 503, which the CLI waits out");
    t.match(refusal?.message, /recovering its jobs|is starting/);
    await until(
      () =>
        next.details(jobId).then(
          () => undefined,
          (err: { message: string }) => (/is starting/.test(err.message) ? true : undefined),
        ),
      "the recovering job answered as starting",
      { timeoutMs: 10_000 },
    );
    const listed = (await unwrap(next.client.jobs.$get({ query: {} }))).jobs.find(
      (j) => j.id === jobId,
    );
    t.equal(listed?.status, JobState.CREATED, "listed while its JobManager is created");
    release();
    t.same(await recovering, [jobId]);
    await next.running(jobId);
    await unwrap(
      next.client.jobs[":jobid"].$patch({ param: { jobid: jobId }, query: { mode: "cancel" } }),
    );
    await next.dispatcher.suspend();
  },
);
