/** The embedded MiniCluster: every block in this process, the same REST API and protocols. */
import t from "tap";
import { startMiniCluster } from "../../../components/cluster/mod.ts";
import { JobState, TaskState } from "../../../components/core/mod.ts";
import { bundleJob } from "../../../components/dataflow/internal_mod.ts";
import { unwrap } from "../../../components/rpc/mod.ts";
import { ENDED, miniRest } from "../../support/mini.ts";
import { until } from "../../support/poll.ts";
import { exactlyOnce } from "../../support/sequence.ts";
import { restBadInput } from "./rest_contract.ts";

const WAIT = { timeoutMs: 60_000 };

t.test("the MiniCluster runs a checkpointed job and answers the REST contract", async (t) => {
  const mini = await startMiniCluster({
    taskManagers: 2,
    slotsPerTaskManager: 2,
    heartbeatIntervalMs: 200,
  });
  t.teardown(() => mini.stop());
  const call = async (method: string, path: string, body?: unknown, raw?: string) => {
    const init: RequestInit = { method };
    if (raw !== undefined || body !== undefined) {
      init.headers = { "content-type": "application/json" };
      init.body = raw ?? JSON.stringify(body);
    }
    const res = await mini.rest.request(path, init);
    return { status: res.status, body: await res.json() };
  };

  const upload = await mini.rest.request("/artifacts", {
    method: "POST",
    body: (await bundleJob("examples/sequence-check.ts")) as BodyInit,
  });
  t.equal(upload.status, 201);
  const { artifact } = await upload.json();
  const again = await mini.rest.request("/artifacts", {
    method: "POST",
    body: (await bundleJob("examples/sequence-check.ts")) as BodyInit,
  });
  t.equal(again.status, 200, "the same artifact twice is stored once");

  const { jobId } = await unwrap(
    mini.client.jobs.$post({
      json: { artifact, args: { keys: "6", perKey: "1500", rate: "20000" } },
    }),
  );
  const details = await until(
    async () => {
      const d = await unwrap(mini.client.jobs[":jobid"].$get({ param: { jobid: jobId } }));
      return ENDED(d) ? d : undefined;
    },
    "the job's end",
    WAIT,
  );
  t.equal(details.state, JobState.FINISHED, JSON.stringify(details.flotilla.error));
  const { vertex } = miniRest(mini);
  const vertices = await Promise.all(details.vertices.map((v) => vertex(jobId, v.id)));
  t.same(
    vertices.map((v) => v.subtasks.map((s) => [s.subtask, s.status])),
    [
      [
        [0, TaskState.FINISHED],
        [1, TaskState.FINISHED],
      ],
      [
        [0, TaskState.FINISHED],
        [1, TaskState.FINISHED],
      ],
    ],
    "each vertex lists every subtask with its state",
  );
  exactlyOnce(
    t,
    await unwrap(mini.client.jobs[":jobid"].results.$get({ param: { jobid: jobId } })),
    6,
    1500,
  );

  const overview = await unwrap(mini.client.overview.$get());
  t.match(overview, { taskmanagers: 2, "slots-total": 4, "jobs-finished": 1 });
  await restBadInput(t, call, jobId);
});

t.test("savepoint, stop and resume at another parallelism on the MiniCluster", async (t) => {
  const mini = await startMiniCluster({ taskManagers: 1, slotsPerTaskManager: 4 });
  t.teardown(() => mini.stop());
  const upload = await mini.rest.request("/artifacts", {
    method: "POST",
    body: (await bundleJob("examples/sequence-check.ts")) as BodyInit,
  });
  const { artifact } = await upload.json();
  const args = { keys: "8", perKey: "4000", rate: "10000" };
  const { jobId } = await unwrap(
    mini.client.jobs.$post({ json: { artifact, args, parallelism: 2 } }),
  );
  await until(
    async () =>
      (await unwrap(mini.client.jobs[":jobid"].$get({ param: { jobid: jobId } }))).flotilla
        .checkpoints >= 1,
    "a checkpoint",
    WAIT,
  );
  const { "request-id": triggerid } = await unwrap(
    mini.client.jobs[":jobid"].stop.$post({ param: { jobid: jobId }, json: {} }),
  );
  const stopped = await until(
    async () => {
      const result = await unwrap(
        mini.client.jobs[":jobid"].savepoints[":triggerid"].$get({
          param: { jobid: jobId, triggerid },
        }),
      );
      return result.operation;
    },
    "the stop to complete",
    WAIT,
  );
  const savepoint = "location" in stopped ? stopped.location : undefined;
  t.match(savepoint, /^savepoints\//, JSON.stringify(stopped));
  t.equal(
    (await unwrap(mini.client.jobs[":jobid"].$get({ param: { jobid: jobId } }))).state,
    JobState.FINISHED,
  );
  const resumed = await unwrap(
    mini.client.jobs.$post({
      json: { artifact, args, parallelism: 3, savepoint: savepoint! },
    }),
  );
  const d = await until(
    async () => {
      const now = await unwrap(
        mini.client.jobs[":jobid"].$get({ param: { jobid: resumed.jobId } }),
      );
      return ENDED(now) ? now : undefined;
    },
    "the resumed job's end",
    WAIT,
  );
  t.equal(d.state, JobState.FINISHED, JSON.stringify(d.flotilla.error));
  exactlyOnce(
    t,
    await unwrap(mini.client.jobs[":jobid"].results.$get({ param: { jobid: resumed.jobId } })),
    8,
    4000,
  ); // across the rescale
});

t.test("records in and out show while the job runs, not only when it ends", async (t) => {
  const mini = await startMiniCluster({ heartbeatIntervalMs: 200 });
  t.teardown(() => mini.stop());
  const upload = await mini.rest.request("/artifacts", {
    method: "POST",
    body: (await bundleJob("examples/sequence-check.ts")) as BodyInit,
  });
  const { artifact } = await upload.json();
  const { jobId } = await unwrap(
    mini.client.jobs.$post({
      json: { artifact, args: { keys: "2", perKey: "100000", rate: "2000" } },
    }),
  );
  const details = await until(
    async () => {
      const d = await unwrap(mini.client.jobs[":jobid"].$get({ param: { jobid: jobId } }));
      return d.state === JobState.RUNNING && d.vertices[0]!.metrics["write-records"] > 0
        ? d
        : undefined;
    },
    "records out while running",
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  t.equal(details.state, JobState.RUNNING);
  t.ok(
    details.vertices[0]!.metrics["write-records"] > 0,
    "the source's records out, while running",
  );
  t.ok(details.vertices[1]!.metrics["read-records"] > 0, "the check's records in, while running");
  await unwrap(
    mini.client.jobs[":jobid"].$patch({ param: { jobid: jobId }, query: { mode: "cancel" } }),
  );
});
