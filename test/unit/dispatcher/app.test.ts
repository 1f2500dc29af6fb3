/**
 * The Dispatcher's app in-process (`app.request`, no sockets, no NATS): every route of its
 * contract, the happy path and bad input, on a MiniCluster (real JobManagers, ResourceManager
 * and TaskManagers on the in-process fabric). After each bad request the Dispatcher still
 * answers and has lost nothing: the same jobs, the same artifact, the running jobs running.
 */
import t, { type Test } from "tap";
import { startMiniCluster } from "../../../components/cluster/mod.ts";
import { JobState, TaskState } from "../../../components/core/mod.ts";
import { bundleJob } from "../../../components/dataflow/internal_mod.ts";
import {
  type ArtifactUploaded,
  type AsynchronousOperationResult,
  type ClusterOverviewWithVersion,
  type DashboardConfiguration,
  type FlinkJobStatus,
  type FlinkTaskManagersInfo,
  type JobDetailsInfo,
  type JobIdsWithStatusOverview,
  type JobVertexDetailsInfo,
  MAX_ARTIFACT_BYTES,
  type MultipleJobsDetails,
  type ResourceRequirements,
  type TriggerResponse,
} from "../../../components/protocol/mod.ts";
import { until } from "../../support/poll.ts";
import { exactlyOnce } from "../../support/sequence.ts";

const mini = await startMiniCluster({ taskManagers: 2, slotsPerTaskManager: 4 });
t.teardown(() => mini.stop());

interface Sent {
  json?: unknown;
  /** A body sent as it is (malformed JSON, raw artifact bytes). */
  raw?: string | Uint8Array;
  contentType?: string;
}

/** One request to the Dispatcher's app; the reply's status and decoded body. */
async function call(method: string, path: string, { json, raw, contentType }: Sent = {}) {
  const init: RequestInit = { method };
  if (json !== undefined || raw !== undefined) {
    init.body = (json !== undefined ? JSON.stringify(json) : raw) as BodyInit;
    init.headers = { "content-type": contentType ?? "application/json" };
  }
  const res = await mini.rest.request(path, init);
  const text = await res.text();
  const type = res.headers.get("content-type") ?? "";
  return { status: res.status, body: type.includes("json") ? JSON.parse(text) : text };
}

async function ok<T>(method: string, path: string, status: number, sent?: Sent): Promise<T> {
  const res = await call(method, path, sent);
  if (res.status !== status)
    throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as T;
}

const details = (jobId: string) => ok<JobDetailsInfo>("GET", `/jobs/${jobId}`, 200);
const inState = (jobId: string, states: readonly FlinkJobStatus[]) =>
  until(
    async () => {
      const d = await details(jobId);
      return states.includes(d.state) ? d : undefined;
    },
    `job ${jobId} ${states.join(" or ")}`,
    { timeoutMs: 30_000 },
  );

const bundle = await bundleJob("examples/sequence-check.ts");
const adaptiveBundle = await bundleJob("test/support/jobs/adaptive_sequence.ts");
const UNKNOWN_JOB = "0".repeat(32);

/** What a bad request must not change: the jobs there are, the artifact, the running jobs. */
async function snapshot() {
  const { jobs } = await ok<JobIdsWithStatusOverview>("GET", "/jobs", 200);
  return jobs.map((j) => ({
    id: j.id,
    // A running job may go from created to running meanwhile: that is not a loss.
    status: j.status === JobState.CREATED || j.status === JobState.RUNNING ? "live" : j.status,
  }));
}

/** Asserts a bad request's typed 4xx, and that the Dispatcher still serves and lost nothing. */
async function rejects(
  t: Test,
  name: string,
  [method, path, sent]: [string, string, Sent?],
  status: number,
  code: string,
  message: RegExp,
) {
  const before = await snapshot();
  const res = await call(method, path, sent);
  t.equal(res.status, status, `${name}: status`);
  t.equal(res.body?.code, code, `${name}: code`);
  t.match(res.body?.errors?.[0], message, `${name}: message`);
  t.same((await call("GET", "/healthz")).body, { ok: true }, `${name}: still serving`);
  t.same(await snapshot(), before, `${name}: nothing lost or changed`);
}

t.test("health, config, overview, TaskManagers, metrics", async (t) => {
  t.same(await ok("GET", "/healthz", 200), { ok: true });
  t.match(
    await ok<DashboardConfiguration>("GET", "/config", 200),
    { "refresh-interval": Number, "flink-version": String, features: { "web-submit": Boolean } },
    "Flink's dashboard configuration",
  );
  const overview = await ok<ClusterOverviewWithVersion>("GET", "/overview", 200);
  t.match(overview, {
    taskmanagers: 2,
    "slots-total": 8,
    "slots-available": 8,
    flotilla: { resourceManager: "up" },
  });
  const { taskmanagers } = await ok<FlinkTaskManagersInfo>("GET", "/taskmanagers", 200);
  t.same(
    taskmanagers.map((tm) => tm.id).sort(),
    mini.taskManagers.map((tm) => tm.tmId).sort(),
    "the ResourceManager's TaskManagers, through the Dispatcher",
  );
  const metrics = await call("GET", "/metrics");
  t.equal(metrics.status, 200);
  t.match(metrics.body, /# TYPE flotilla_jobs gauge\nflotilla_jobs\{state="CREATED"\} \d+\n/);
  await rejects(
    t,
    "unknown route",
    ["GET", "/nowhere"],
    404,
    "NOT_FOUND",
    /no route for GET \/nowhere/,
  );
});

t.test("artifacts: upload once, look up, bad input", async (t) => {
  const first = await ok<ArtifactUploaded>("POST", "/artifacts", 201, {
    raw: bundle,
    contentType: "application/octet-stream",
  });
  t.match(first, { artifact: /^[0-9a-f]{64}$/, size: bundle.byteLength, created: true });
  const again = await ok<ArtifactUploaded>("POST", "/artifacts", 200, {
    raw: bundle,
    contentType: "application/octet-stream",
  });
  t.same(again, { ...first, created: false }, "the same bytes are stored once");
  t.same(await ok("GET", `/artifacts/${first.artifact}`, 200), { artifact: first.artifact });

  await rejects(
    t,
    "unknown artifact",
    ["GET", `/artifacts/${"b".repeat(64)}`],
    404,
    "NOT_FOUND",
    /no artifact b{64}: upload it/,
  );
  await rejects(
    t,
    "artifact id that is no sha256",
    ["GET", "/artifacts/xyz"],
    400,
    "BAD_REQUEST",
    /'artifact': an artifact id is the sha256/,
  );
  await rejects(
    t,
    "empty artifact",
    ["POST", "/artifacts", { raw: "" }],
    400,
    "BAD_REQUEST",
    /artifact is empty/,
  );
  await rejects(
    t,
    "oversized artifact",
    ["POST", "/artifacts", { raw: new Uint8Array(MAX_ARTIFACT_BYTES + 1) }],
    413,
    "PAYLOAD_TOO_LARGE",
    new RegExp(`exceeds the limit of ${MAX_ARTIFACT_BYTES} bytes: an artifact is one bundled job`),
  );
});

/** Uploads a bundle (201 the first time, 200 after). */
async function upload(bytes: Uint8Array): Promise<ArtifactUploaded> {
  const res = await call("POST", "/artifacts", { raw: bytes });
  if (res.status !== 201 && res.status !== 200) throw new Error(JSON.stringify(res.body));
  return res.body as ArtifactUploaded;
}
const submit = async (json: unknown) =>
  (await ok<{ jobId: string }>("POST", "/jobs", 202, { json })).jobId;

/** A savepoint or stop's operation, polled by its trigger's request id until it completed. */
const completed = (jobId: string, { "request-id": id }: TriggerResponse) =>
  until(
    async () => {
      const result = await ok<AsynchronousOperationResult>(
        "GET",
        `/jobs/${jobId}/savepoints/${id}`,
        200,
      );
      return result.status.id === "COMPLETED" ? result : undefined;
    },
    `the operation ${id} of job ${jobId} to complete`,
    { timeoutMs: 30_000 },
  );

t.test("a job from submit to finished: list, details, results", async (t) => {
  const { artifact } = await upload(bundle);
  const jobId = await submit({ artifact, args: { keys: "4", perKey: "300", rate: "20000" } });
  t.match(jobId, /^[0-9a-f]{32}$/);
  const { jobs } = await ok<JobIdsWithStatusOverview>("GET", "/jobs", 200);
  t.match(jobs[0], { id: jobId }, "newest first");
  const overviews = await ok<MultipleJobsDetails>("GET", "/jobs/overview", 200);
  t.match(overviews.jobs[0], { jid: jobId, name: "sequence-check" }, "newest first, named");

  const running = await inState(jobId, [JobState.RUNNING, JobState.FINISHED]);
  t.match(running, {
    jid: jobId,
    name: "sequence-check",
    flotilla: { scheduler: "default", restarts: 0 },
  });
  t.type(running.flotilla.attempt, "number", "a running job's details carry its attempt");
  const ended = await inState(jobId, [JobState.FINISHED, JobState.FAILED, JobState.CANCELED]);
  t.equal(ended.state, JobState.FINISHED, JSON.stringify(ended.flotilla.error));
  t.ok(ended["end-time"] >= ended["start-time"], "an ended job's details carry when it ended");
  t.same(
    ended.vertices.map((v) => v.tasks[TaskState.FINISHED]),
    [2, 2],
    "every subtask of every vertex counted finished",
  );
  const subtasks = await Promise.all(
    ended.vertices.map((v) =>
      ok<JobVertexDetailsInfo>("GET", `/jobs/${jobId}/vertices/${v.id}`, 200),
    ),
  );
  t.same(
    subtasks.map((v) => v.subtasks.map((s) => s.status)),
    [
      [TaskState.FINISHED, TaskState.FINISHED],
      [TaskState.FINISHED, TaskState.FINISHED],
    ],
    "each vertex lists its subtasks with their state, also after the end",
  );
  exactlyOnce(t, await ok("GET", `/jobs/${jobId}/results`, 200), 4, 300);
  t.match(await ok<ClusterOverviewWithVersion>("GET", "/overview", 200), { "jobs-finished": 1 });

  await rejects(
    t,
    "malformed JSON",
    ["POST", "/jobs", { raw: "{not json" }],
    400,
    "BAD_REQUEST",
    /malformed application\/json/,
  );
  await rejects(
    t,
    "unknown field",
    ["POST", "/jobs", { json: { artifact, color: "red" } }],
    400,
    "BAD_REQUEST",
    /color/,
  );
  await rejects(
    t,
    "wrong type",
    ["POST", "/jobs", { json: { artifact, parallelism: "two" } }],
    400,
    "BAD_REQUEST",
    /'parallelism'/,
  );
  await rejects(
    t,
    "a secret named like the cluster's own credentials",
    ["POST", "/jobs", { json: { artifact, secrets: { "nats-master.nk": "x" } } }],
    400,
    "BAD_REQUEST",
    /'secrets\.nats-master\.nk'.*cluster's own credentials/,
  );
  await rejects(
    t,
    "a secret whose name leaves its directory",
    ["POST", "/jobs", { json: { artifact, secrets: { "../etc/passwd": "x" } } }],
    400,
    "BAD_REQUEST",
    /a secret's name is 1-128 letters/,
  );
  await rejects(
    t,
    "too many secrets",
    [
      "POST",
      "/jobs",
      {
        json: {
          artifact,
          secrets: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`s${i}`, "x"])),
        },
      },
    ],
    400,
    "BAD_REQUEST",
    /at most 64 secrets per job/,
  );
  await rejects(
    t,
    "a secret over 64 KiB",
    ["POST", "/jobs", { json: { artifact, secrets: { big: "x".repeat(65_537) } } }],
    400,
    "BAD_REQUEST",
    /'secrets\.big'/,
  );
  await rejects(
    t,
    "unsupported content type",
    ["POST", "/jobs", { raw: "artifact=x", contentType: "text/plain" }],
    400,
    "BAD_REQUEST",
    /unsupported content type "text\/plain"/,
  );
  await rejects(
    t,
    "an artifact the cluster does not have",
    ["POST", "/jobs", { json: { artifact: "c".repeat(64) } }],
    404,
    "NOT_FOUND",
    /artifact c{64} is not in the blob store/,
  );
  await rejects(
    t,
    "a savepoint that does not exist",
    ["POST", "/jobs", { json: { artifact, savepoint: "savepoints/nope/1" } }],
    404,
    "NOT_FOUND",
    /savepoints\/nope\/1/,
  );
  await rejects(
    t,
    "bad job id",
    ["GET", "/jobs/not-a-job"],
    400,
    "BAD_REQUEST",
    /'jobid': expected a job id of 32 lowercase hex digits/,
  );
  for (const [name, method, path] of [
    ["details", "GET", `/jobs/${UNKNOWN_JOB}`],
    ["results", "GET", `/jobs/${UNKNOWN_JOB}/results`],
    ["cancel", "PATCH", `/jobs/${UNKNOWN_JOB}?mode=cancel`],
    ["savepoint", "POST", `/jobs/${UNKNOWN_JOB}/savepoints`],
    ["resource requirements", "GET", `/jobs/${UNKNOWN_JOB}/resource-requirements`],
  ] as const)
    await rejects(
      t,
      `${name} of an unknown job`,
      [method, path],
      404,
      "JOB_NOT_FOUND",
      /no job 0{32}/,
    );
  await rejects(
    t,
    "cancel of an ended job",
    ["PATCH", `/jobs/${jobId}?mode=cancel`],
    409,
    "CONFLICT",
    /already FINISHED/,
  );
  await rejects(
    t,
    "savepoint of an ended job",
    ["POST", `/jobs/${jobId}/savepoints`],
    409,
    "CONFLICT",
    /already FINISHED/,
  );
  await rejects(
    t,
    "stop of an ended job",
    ["POST", `/jobs/${jobId}/stop`, { json: {} }],
    409,
    "CONFLICT",
    /already FINISHED/,
  );
  await rejects(
    t,
    "new bounds for an ended job",
    [
      "PUT",
      `/jobs/${jobId}/resource-requirements`,
      { json: { v: { parallelism: { lowerBound: 1, upperBound: 2 } } } },
    ],
    409,
    "CONFLICT",
    /already FINISHED/,
  );
});

t.test("cancel: 202 at once (no mode needed), then the job ends canceled", async (t) => {
  const { artifact } = await upload(bundle);
  const jobId = await submit({ artifact, args: { keys: "2", perKey: "1000000", rate: "200" } });
  await inState(jobId, [JobState.RUNNING]);
  t.type(await ok("GET", `/jobs/${jobId}/results`, 200), "object", "results while it runs");
  t.same(
    Object.keys(await ok("GET", `/jobs/${jobId}/resource-requirements`, 200)).length,
    2,
    "the bounds of each vertex, also for the default scheduler",
  );
  await rejects(
    t,
    "new bounds for a job on the default scheduler",
    [
      "PUT",
      `/jobs/${jobId}/resource-requirements`,
      { json: { "0-sequence": { parallelism: { lowerBound: 1, upperBound: 2 } } } },
    ],
    409,
    "CONFLICT",
    /default scheduler/,
  );
  await rejects(
    t,
    "cancel with a bad mode",
    ["PATCH", `/jobs/${jobId}?mode=explode`],
    400,
    "BAD_REQUEST",
    /'mode'/,
  );
  // Flink's mode is optional: without one, PATCH cancels.
  t.same(await ok("PATCH", `/jobs/${jobId}`, 202), {}, "Flink's empty body");
  const ended = await inState(jobId, [JobState.CANCELED, JobState.FINISHED, JobState.FAILED]);
  t.match(ended, { state: JobState.CANCELED, "end-time": Number });
  await rejects(
    t,
    "cancel again",
    ["PATCH", `/jobs/${jobId}?mode=cancel`],
    409,
    "CONFLICT",
    /already CANCELED/,
  );
});

t.test("savepoint and stop of a running job; resume from the savepoint", async (t) => {
  const { artifact } = await upload(bundle);
  const args = { keys: "2", perKey: "600", rate: "400" };
  const jobId = await submit({ artifact, args });
  await until(async () => (await details(jobId)).flotilla.checkpoints >= 1, "a checkpoint", {
    timeoutMs: 30_000,
  });
  const taken = await completed(
    jobId,
    await ok<TriggerResponse>("POST", `/jobs/${jobId}/savepoints`, 202, { json: {} }),
  );
  t.match(taken.operation, { location: new RegExp(`^savepoints/${jobId}/\\d+$`) });
  t.equal((await details(jobId)).state, JobState.RUNNING, "a savepoint leaves the job running");
  await rejects(
    t,
    "stop with drain (flotilla's stop does not drain)",
    ["POST", `/jobs/${jobId}/stop`, { json: { drain: true } }],
    400,
    "BAD_REQUEST",
    /drain/,
  );
  await rejects(
    t,
    "stop with an unknown field",
    ["POST", `/jobs/${jobId}/stop`, { json: { savepoint: true } }],
    400,
    "BAD_REQUEST",
    /savepoint/,
  );
  const stopped = await completed(
    jobId,
    await ok<TriggerResponse>("POST", `/jobs/${jobId}/stop`, 202, { json: {} }),
  );
  const location =
    stopped.operation && "location" in stopped.operation && stopped.operation.location;
  t.match(location, /^savepoints\//, "the stop's savepoint");
  t.match(await details(jobId), { state: JobState.FINISHED, flotilla: { savepoint: location } });

  const resumed = await submit({ artifact, args, savepoint: location });
  const end = await inState(resumed, [JobState.FINISHED, JobState.FAILED, JobState.CANCELED]);
  t.equal(end.state, JobState.FINISHED, JSON.stringify(end.flotilla.error));
  exactlyOnce(t, await ok("GET", `/jobs/${resumed}/results`, 200), 2, 600);
});

t.test("resource requirements of an adaptive job", async (t) => {
  const { artifact } = await upload(adaptiveBundle);
  const jobId = await submit({ artifact, args: { keys: "2", perKey: "1000000", rate: "200" } });
  const running = await inState(jobId, [JobState.RUNNING]);
  t.equal(running.flotilla.scheduler, "adaptive");
  const bounds = await ok<ResourceRequirements>("GET", `/jobs/${jobId}/resource-requirements`, 200);
  const vertices = Object.keys(bounds);
  t.ok(vertices.length > 0, "a bound per vertex");
  const narrower = Object.fromEntries(
    vertices.map((v) => [v, { parallelism: { lowerBound: 1, upperBound: 2 } }]),
  );
  t.same(
    await ok("PUT", `/jobs/${jobId}/resource-requirements`, 200, { json: narrower }),
    narrower,
  );
  t.same(await ok("GET", `/jobs/${jobId}/resource-requirements`, 200), narrower);
  await rejects(
    t,
    "bounds: malformed JSON",
    ["PUT", `/jobs/${jobId}/resource-requirements`, { raw: "{not json" }],
    400,
    "BAD_REQUEST",
    /malformed application\/json/,
  );
  await rejects(
    t,
    "bounds: not a number",
    [
      "PUT",
      `/jobs/${jobId}/resource-requirements`,
      { json: { [vertices[0]!]: { parallelism: { lowerBound: 1, upperBound: "four" } } } },
    ],
    400,
    "BAD_REQUEST",
    /upperBound/,
  );
  await rejects(
    t,
    "bounds: lower above upper",
    [
      "PUT",
      `/jobs/${jobId}/resource-requirements`,
      { json: { [vertices[0]!]: { parallelism: { lowerBound: 3, upperBound: 2 } } } },
    ],
    400,
    "BAD_REQUEST",
    /lowerBound must not be above upperBound/,
  );
  await ok("PATCH", `/jobs/${jobId}?mode=cancel`, 202);
  await inState(jobId, [JobState.CANCELED]);
});
