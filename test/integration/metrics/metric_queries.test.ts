/**
 * Flink's metric query routes over a MiniCluster running a job: job, vertex and subtask metrics
 * from its JobManager, the JobManager scope, the TaskManagers' own figures over the fabric; the
 * process's Prometheus text carries the same job while it runs, and drops it once it ended.
 */
import t from "tap";
import { startMiniCluster } from "../../../components/cluster/mod.ts";
import { subjects, vertexHexId } from "../../../components/core/mod.ts";
import { bundleJob } from "../../../components/dataflow/internal_mod.ts";
import { jobStatusHere, metricQueryHandlers } from "../../../components/dispatcher/mod.ts";
import { processMetrics } from "../../../components/metrics/mod.ts";
import { metricQueryRoutes, type ResourceManagerApp } from "../../../components/protocol/mod.ts";
import { createClient } from "../../../components/rpc/mod.ts";
import { until } from "../../support/poll.ts";

const WAIT = { timeoutMs: 60_000, intervalMs: 100 };

t.test("metric queries and /metrics follow a running job", async (t) => {
  const mini = await startMiniCluster({
    clusterId: "metrics",
    taskManagers: 2,
    slotsPerTaskManager: 2,
    heartbeatIntervalMs: 200,
  });
  t.teardown(() => mini.stop());
  const rpc = { timeoutMs: 5000, attemptTimeoutMs: 5000 };
  const app = metricQueryRoutes(
    metricQueryHandlers({
      resourceManager: createClient<ResourceManagerApp>(
        mini.fabric.transportFor(subjects.resourceManager("metrics")),
        rpc,
      ),
      transportFor: mini.fabric.transportFor,
      rpc,
    }),
  );
  const get = async (path: string) => {
    const res = await app.request(path);
    return { status: res.status, body: await res.json() };
  };

  const upload = await mini.rest.request("/artifacts", {
    method: "POST",
    body: (await bundleJob("examples/sequence-check.ts")) as BodyInit,
  });
  const { artifact } = await upload.json();
  // Slow enough to be running while it is asked about.
  const submitted = await mini.rest.request("/jobs", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ artifact, args: { keys: "4", perKey: "1000000", rate: "2000" } }),
  });
  t.equal(submitted.status, 202, "submitted");
  const { jobId } = (await submitted.json()) as { jobId: string };

  const restarts = await until(
    async () => {
      const { body } = await get(`/jobs/${jobId}/metrics?get=numRestarts,uptime,nonsense`);
      return Array.isArray(body) && body.length === 2 ? body : undefined;
    },
    "the job's metrics",
    WAIT,
  );
  t.same(restarts[0], { id: "numRestarts", value: "0" }, "values are strings, as Flink's");
  t.equal(restarts[1].id, "uptime", "an unknown id is left out");
  const listed = (await get(`/jobs/${jobId}/metrics`)).body as { id: string }[];
  t.ok(
    listed.some((m) => m.id === "numberOfCompletedCheckpoints"),
    "without get: the ids",
  );
  t.notOk(
    listed.some((m) => "value" in m),
    "and no values",
  );

  // Checkpoint figures from the JobManager's checkpoint statistics, once one completed.
  const figures = await until(
    async () => {
      const { body } = await get(
        `/jobs/${jobId}/metrics?get=numberOfCompletedCheckpoints,lastCheckpointDuration,lastCheckpointSize,uptime`,
      );
      const values = Object.fromEntries(
        (body as { id: string; value: string }[]).map((m) => [m.id, Number(m.value)]),
      );
      return (values.numberOfCompletedCheckpoints ?? 0) > 0 ? values : undefined;
    },
    "a completed checkpoint in the job's metrics",
    WAIT,
  );
  t.ok(figures.lastCheckpointDuration! >= 0, "the last checkpoint's duration, not -1");
  t.ok(figures.lastCheckpointSize! > 0, "and its size");
  t.ok(figures.uptime! > 0, "uptime counts while it runs");

  // The source vertex (position 0) by Flink's hex id: its subtasks' records out grow.
  const sourceId = jobStatusHere(jobId)?.vertices[0]?.id ?? "no source vertex";
  const source = vertexHexId(sourceId);
  const sent = await until(
    async () => {
      const { body } = await get(
        `/jobs/${jobId}/vertices/${source}/subtasks/metrics?get=numRecordsOut&agg=sum,max,min,skew`,
      );
      const row = (body as { id: string; sum?: number; skew?: number }[])[0];
      return row && (row.sum ?? 0) > 0 ? row : undefined;
    },
    "records out of the source",
    WAIT,
  );
  t.same(Object.keys(sent).sort(), ["id", "max", "min", "skew", "sum"], "the aggregations asked");
  t.ok(sent.skew !== undefined && sent.skew >= 0 && sent.skew <= 100, "skew is a percentage");
  const perSubtask = (await get(`/jobs/${jobId}/vertices/${sourceId}/metrics?get=0.numRecordsOut`))
    .body as { id: string; value: string }[];
  t.equal(perSubtask[0]?.id, "0.numRecordsOut", "flotilla's vertex id works too, ids by subtask");
  t.ok(Number(perSubtask[0]?.value) > 0);

  const jm = (
    await get("/jobmanager/metrics?get=numRegisteredTaskManagers,taskSlotsTotal,numRunningJobs")
  ).body as { id: string; value: string }[];
  t.same(Object.fromEntries(jm.map((m) => [m.id, m.value])), {
    numRegisteredTaskManagers: "2",
    taskSlotsTotal: "4",
    numRunningJobs: "1",
  });
  const tms = (await get("/taskmanagers/metrics?get=Status.JVM.Memory.Heap.Used&agg=min,max"))
    .body as { id: string; min: number; max: number }[];
  t.equal(tms[0]?.id, "Status.JVM.Memory.Heap.Used");
  t.ok((tms[0]?.min ?? 0) > 0, "each TaskManager answered its heap");

  t.equal((await get("/jobs/x/metrics")).status, 400, "a bad job id is 400");
  t.equal(
    (await get(`/jobs/${jobId}/metrics?agg=median`)).status,
    400,
    "agg on a collection route",
  );
  t.equal(
    (await get(`/jobs/${jobId}/vertices/${source}/subtasks/metrics?agg=median`)).status,
    400,
    "an unknown aggregation is 400",
  );
  const tooMany = Array.from({ length: 65 }, (_, i) => `m${i}`).join(",");
  t.equal((await get(`/jobmanager/metrics?get=${tooMany}`)).status, 400, "get is bounded");

  // The process's Prometheus text has the running job under Flink's names.
  const text = await processMetrics().text();
  t.match(text, new RegExp(`flink_jobmanager_job_numRestarts\\{[^}]*job_id="${jobId}"`));
  t.match(
    text,
    new RegExp(
      `flink_taskmanager_job_task_numRecordsOut\\{[^}]*job_id="${jobId}",job_name="sequence-check",task_id="${source}"`,
    ),
  );

  const canceled = await mini.rest.request(`/jobs/${jobId}`, { method: "PATCH" });
  t.ok(canceled.status < 300, `canceled (${canceled.status})`);
  await until(
    async () => !(await processMetrics().text()).includes(`job_id="${jobId}"`),
    "the ended job's series to go",
    WAIT,
  );
  t.same((await get(`/jobs/${jobId}/metrics?get=numRestarts`)).body, [], "an ended job: []");
});
