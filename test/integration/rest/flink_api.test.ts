/**
 * The Dispatcher's REST API against Flink's: every monitoring route's answer validated against the
 * response schemas of components/protocol flink_*.ts (Flink's fields and types) for a running, a
 * finished, a failed and a canceled job, on the MiniCluster and on a cluster of processes; the
 * asynchronous savepoint and stop with a retried trigger id; and bad input.
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import t, { type Test } from "tap";
import type { z } from "zod";
import { startMiniCluster } from "../../../components/cluster/mod.ts";
import { vertexHexId } from "../../../components/core/mod.ts";
import { bundleJob } from "../../../components/dataflow/internal_mod.ts";
import {
  asynchronousOperationResultSchema,
  checkpointConfigInfoSchema,
  checkpointingStatisticsSchema,
  checkpointStatisticsSchema,
  clusterConfigurationInfoSchema,
  clusterOverviewWithVersionSchema,
  dashboardConfigurationSchema,
  flinkTaskManagerDetailsInfoSchema,
  flinkTaskManagersInfoSchema,
  jobConfigInfoSchema,
  jobDetailsInfoSchema,
  jobExceptionsSchema,
  jobIdsWithStatusOverviewSchema,
  jobPlanInfoSchema,
  jobVertexBackPressureInfoSchema,
  jobVertexDetailsInfoSchema,
  multipleJobsDetailsSchema,
  taskCheckpointWithSubtasksSchema,
  triggerResponseSchema,
  watermarksInfoSchema,
} from "../../../components/protocol/mod.ts";
import { clusterFor } from "../../support/cluster.ts";
import { until } from "../../support/poll.ts";
import { AUTH_HEADERS } from "../../support/rest_token.ts";
import { natsFor } from "../../support/tap.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const WAIT = { timeoutMs: 60_000, intervalMs: 50 };

/** One REST call: the status and the parsed JSON body. */
type Call = (
  method: string,
  path: string,
  body?: unknown,
  raw?: string,
) => Promise<{ status: number; body: unknown }>;

/** The four jobs every route is asked about, by what they are. */
interface Jobs {
  running: string;
  finished: string;
  failed: string;
  canceled: string;
}

function expectShape<S extends z.ZodType>(
  t: Test,
  schema: S,
  answer: { status: number; body: unknown },
  what: string,
): z.output<S> {
  t.equal(answer.status, 200, `${what}: 200 (${JSON.stringify(answer.body).slice(0, 300)})`);
  const parsed = schema.safeParse(answer.body);
  t.ok(
    parsed.success,
    `${what} has Flink's fields and types${parsed.success ? "" : `: ${parsed.error.message}`}`,
  );
  return parsed.success ? parsed.data : (answer.body as z.output<S>);
}

async function submit(
  call: Call,
  upload: (bytes: Uint8Array) => Promise<string>,
  file: string,
  args: Record<string, string>,
) {
  const artifact = await upload(new Uint8Array(await bundleJob(`${ROOT}${file}`)));
  const submitted = await call("POST", "/jobs", { artifact, args });
  if (submitted.status !== 202) throw new Error(`submit ${file}: ${JSON.stringify(submitted)}`);
  return (submitted.body as { jobId: string }).jobId;
}

async function stateOf(call: Call, jobId: string): Promise<string> {
  const { body } = await call("GET", `/jobs/${jobId}`);
  return (body as { state: string }).state;
}

async function untilState(call: Call, jobId: string, states: string[], what: string) {
  return until(async () => states.includes(await stateOf(call, jobId)), what, WAIT);
}

/** Starts the four jobs and brings each to its state. */
async function fourJobs(
  t: Test,
  call: Call,
  upload: (bytes: Uint8Array) => Promise<string>,
): Promise<Jobs> {
  const finished = await submit(call, upload, "examples/sequence-check.ts", {
    keys: "2",
    perKey: "50",
    rate: "20000",
  });
  const failed = await submit(call, upload, "test/support/jobs/failing.ts", {});
  const canceled = await submit(call, upload, "test/support/jobs/endless.ts", {});
  // Checkpointed and slow: runs until the test stops it with a savepoint.
  const running = await submit(call, upload, "examples/sequence-check.ts", {
    keys: "2",
    perKey: "100000000",
    rate: "200",
  });
  await untilState(call, finished, ["FINISHED"], "the short job to finish");
  await untilState(call, failed, ["FAILED"], "the failing job to fail");
  await untilState(call, canceled, ["RUNNING"], "the endless job to run");
  const cancel = await call("PATCH", `/jobs/${canceled}?mode=CANCEL`);
  t.equal(cancel.status, 202, "cancel (mode=CANCEL, any case) is accepted");
  t.same(cancel.body, {}, "cancel answers Flink's empty body");
  await untilState(call, canceled, ["CANCELED"], "the endless job to be canceled");
  await until(
    async () => {
      const { body } = await call("GET", `/jobs/${running}`);
      const details = body as { state: string; vertices: { status: string }[] };
      return details.state === "RUNNING" && details.vertices.every((v) => v.status === "RUNNING");
    },
    "the long job's vertices to run",
    WAIT,
  );
  return { running, finished, failed, canceled };
}

async function clusterRoutes(t: Test, call: Call): Promise<Map<string, number>> {
  for (const prefix of ["", "/v1"]) {
    const config = expectShape(
      t,
      dashboardConfigurationSchema,
      await call("GET", `${prefix}/config`),
      `${prefix}/config`,
    );
    t.match(config["flink-version"], /^\d+\.\d+\.\d+/, "flink-version carries flotilla's version");
    expectShape(
      t,
      clusterOverviewWithVersionSchema,
      await call("GET", `${prefix}/overview`),
      `${prefix}/overview`,
    );
  }
  const tms = expectShape(
    t,
    flinkTaskManagersInfoSchema,
    await call("GET", "/taskmanagers"),
    "/taskmanagers",
  );
  t.ok(tms.taskmanagers.length > 0, "the TaskManagers are listed");
  for (const tm of tms.taskmanagers) {
    t.equal(tm.dataPort, -1, "no data port: Flink's -1");
    expectShape(
      t,
      flinkTaskManagerDetailsInfoSchema,
      await call("GET", `/taskmanagers/${tm.id}`),
      `/taskmanagers/${tm.id}`,
    );
  }
  const heartbeats = new Map(tms.taskmanagers.map((tm) => [tm.id, tm.timeSinceLastHeartbeat]));
  const unknownTm = await call("GET", "/taskmanagers/no-such-tm");
  t.equal(unknownTm.status, 404, "an unknown TaskManager is a 404");
  const settings = expectShape(
    t,
    clusterConfigurationInfoSchema,
    await call("GET", "/jobmanager/config"),
    "/jobmanager/config",
  );
  t.notOk(
    settings.some((e) => /token|secret|password/i.test(e.key)),
    "no setting naming a secret is shown",
  );
  t.ok(
    settings.some((e) => e.key === "heartbeat.interval"),
    "the cluster's settings are shown, as strings",
  );
  return heartbeats;
}

/** Flink's `timeSinceLastHeartbeat` is when the last heartbeat was: later ones move it on. */
async function heartbeatsMoveOn(t: Test, call: Call, before: Map<string, number>) {
  const now = flinkTaskManagersInfoSchema.parse((await call("GET", "/taskmanagers")).body);
  for (const tm of now.taskmanagers)
    t.ok(
      tm.timeSinceLastHeartbeat > (before.get(tm.id) ?? Number.POSITIVE_INFINITY),
      `TaskManager ${tm.id}'s last heartbeat moved on`,
    );
}

async function jobRoutes(t: Test, call: Call, jobs: Jobs) {
  const list = expectShape(t, jobIdsWithStatusOverviewSchema, await call("GET", "/jobs"), "/jobs");
  const overview = expectShape(
    t,
    multipleJobsDetailsSchema,
    await call("GET", "/jobs/overview"),
    "/jobs/overview",
  );
  for (const [what, jobId] of Object.entries(jobs)) {
    t.ok(
      list.jobs.some((j) => j.id === jobId),
      `/jobs lists the ${what} job`,
    );
    t.ok(
      overview.jobs.some((j) => j.jid === jobId),
      `/jobs/overview lists the ${what} job`,
    );
    for (const prefix of ["", "/v1"]) {
      const details = expectShape(
        t,
        jobDetailsInfoSchema,
        await call("GET", `${prefix}/jobs/${jobId}`),
        `${prefix}/jobs/:jid (${what})`,
      );
      t.equal(details.jid, jobId);
      if (what === "finished")
        t.ok(
          details.timestamps.RUNNING > 0 &&
            details.timestamps.FINISHED >= details.timestamps.RUNNING,
          `an ended job keeps its state times: ${JSON.stringify(details.timestamps)}`,
        );
      if (prefix) continue;
      expectShape(
        t,
        jobPlanInfoSchema,
        await call("GET", `/jobs/${jobId}/plan`),
        `/jobs/:jid/plan (${what})`,
      );
      expectShape(
        t,
        jobConfigInfoSchema,
        await call("GET", `/jobs/${jobId}/config`),
        `/jobs/:jid/config (${what})`,
      );
      for (const vertex of details.vertices) {
        for (const id of [vertex.id, vertex.flotilla.vertexId]) {
          const path = `/jobs/${jobId}/vertices/${encodeURIComponent(id)}`;
          const info = expectShape(
            t,
            jobVertexDetailsInfoSchema,
            await call("GET", path),
            `${path} (${what})`,
          );
          t.equal(info.id, vertex.id, "the hex id and flotilla's name the same vertex");
        }
        expectShape(
          t,
          watermarksInfoSchema,
          await call("GET", `/jobs/${jobId}/vertices/${vertex.id}/watermarks`),
          `watermarks (${what})`,
        );
        expectShape(
          t,
          jobVertexBackPressureInfoSchema,
          await call("GET", `/jobs/${jobId}/vertices/${vertex.id}/backpressure`),
          `backpressure (${what})`,
        );
        if (what === "running") await measuredBackPressure(t, call, jobId, vertex.id);
      }
    }
  }
  await historyRoutes(t, call, jobs);
  const states = Object.fromEntries(
    await Promise.all(
      Object.entries(jobs).map(async ([what, jobId]) => [what, await stateOf(call, jobId)]),
    ),
  );
  t.same(states, {
    running: "RUNNING",
    finished: "FINISHED",
    failed: "FAILED",
    canceled: "CANCELED",
  });
}

/** Checkpoints and exceptions, H's bodies passed through: live from a JobManager, or archived. */
async function historyRoutes(t: Test, call: Call, jobs: Jobs) {
  const checkpointed = new Set([jobs.running, jobs.finished]);
  for (const [what, jobId] of Object.entries(jobs)) {
    const stats = expectShape(
      t,
      checkpointingStatisticsSchema,
      await call("GET", `/jobs/${jobId}/checkpoints`),
      `/jobs/:jid/checkpoints (${what})`,
    );
    const config = await call("GET", `/jobs/${jobId}/checkpoints/config`);
    if (checkpointed.has(jobId))
      expectShape(t, checkpointConfigInfoSchema, config, `/checkpoints/config (${what})`);
    else
      t.equal(config.status, 404, `a job without checkpointing has no checkpoint config (${what})`);
    const exceptions = expectShape(
      t,
      jobExceptionsSchema,
      await call("GET", `/jobs/${jobId}/exceptions?maxExceptions=5`),
      `/jobs/:jid/exceptions (${what})`,
    );
    if (jobId === jobs.failed)
      t.ok(exceptions.exceptionHistory.entries.length > 0, "the failed job's exception is kept");
    const latest = stats.history[0];
    if (!latest) continue;
    expectShape(
      t,
      checkpointStatisticsSchema,
      await call("GET", `/jobs/${jobId}/checkpoints/details/${latest.id}`),
      `/checkpoints/details/:cid (${what})`,
    );
    const { body } = await call("GET", `/jobs/${jobId}`);
    for (const vertex of (body as { vertices: { id: string }[] }).vertices) {
      const subtasks = await call(
        "GET",
        `/jobs/${jobId}/checkpoints/details/${latest.id}/subtasks/${vertex.id}`,
      );
      // An archive may have trimmed per-subtask details (404 naming why); a live job has them.
      if (subtasks.status === 404 && what !== "running") continue;
      expectShape(t, taskCheckpointWithSubtasksSchema, subtasks, `checkpoint subtasks (${what})`);
    }
  }
}

/** A running vertex's subtasks report their time split: its backpressure is measured. */
async function measuredBackPressure(t: Test, call: Call, jobId: string, vertexId: string) {
  const path = `/jobs/${jobId}/vertices/${vertexId}/backpressure`;
  const info = await until(
    async () => {
      const parsed = jobVertexBackPressureInfoSchema.parse((await call("GET", path)).body);
      // Each subtask is measured once it reported (a TaskManager reports on its own beat).
      return parsed.status === "ok" && parsed.subtasks.length === 2 ? parsed : undefined;
    },
    `${path} to be measured`,
    WAIT,
  );
  t.ok(
    info.status === "ok" &&
      info.subtasks.every((s) => s.ratio + s.idleRatio + s.busyRatio <= 1.000001),
    `each subtask's ratios are shares of its time: ${JSON.stringify(info)}`,
  );
}

/** A client-chosen trigger id, 32 hex. */
const triggerId = (n: number) => n.toString(16).padStart(32, "0");

async function untilCompleted(call: Call, jobId: string, id: string) {
  return until(
    async () => {
      const answer = await call("GET", `/jobs/${jobId}/savepoints/${id}`);
      const result = asynchronousOperationResultSchema.parse(answer.body);
      return "operation" in result ? result : undefined;
    },
    `operation ${id} to complete`,
    WAIT,
  );
}

async function asyncOperations(t: Test, call: Call, jobId: string) {
  const savepointId = triggerId(1);
  const first = await call("POST", `/jobs/${jobId}/savepoints`, { triggerId: savepointId });
  t.equal(first.status, 202, "a savepoint is triggered: 202");
  t.same(triggerResponseSchema.parse(first.body), { "request-id": savepointId });
  const retried = await call("POST", `/jobs/${jobId}/savepoints`, { triggerId: savepointId });
  t.same(
    retried.body,
    { "request-id": savepointId },
    "a retried trigger id answers the same operation",
  );
  const done = await untilCompleted(call, jobId, savepointId);
  t.ok(
    done.status.id === "COMPLETED" && "location" in done.operation,
    `the savepoint completed: ${JSON.stringify(done)}`,
  );
  const again = await call("POST", `/jobs/${jobId}/savepoints`, { triggerId: savepointId });
  t.equal(again.status, 202);
  t.same(
    (await untilCompleted(call, jobId, savepointId)).operation,
    done.operation,
    "a retry after completion takes no second savepoint",
  );
  const fresh = await call("POST", `/jobs/${jobId}/savepoints`);
  t.equal(fresh.status, 202, "no body is Flink's {}");
  await untilCompleted(call, jobId, triggerResponseSchema.parse(fresh.body)["request-id"]);

  const drain = await call("POST", `/jobs/${jobId}/stop`, { drain: true });
  t.equal(drain.status, 400, "drain: true is refused (not supported)");
  t.match(JSON.stringify(drain.body), /drain/);
  const stopId = triggerId(2);
  const stop = await call("POST", `/jobs/${jobId}/stop`, { triggerId: stopId, drain: false });
  t.equal(stop.status, 202, "a stop is triggered: 202");
  const stopRetried = await call("POST", `/jobs/${jobId}/stop`, { triggerId: stopId });
  t.same(stopRetried.body, { "request-id": stopId }, "a retried stop answers the same operation");
  const stopped = await untilCompleted(call, jobId, stopId);
  t.ok("location" in stopped.operation, `the stop's savepoint: ${JSON.stringify(stopped)}`);
  await untilState(call, jobId, ["FINISHED"], "the stopped job to finish");
  const afterEnd = await call("POST", `/jobs/${jobId}/stop`, { triggerId: stopId });
  t.same(
    afterEnd.body,
    { "request-id": stopId },
    "a retried stop after the job ended still answers its operation",
  );
}

async function badInput(t: Test, call: Call, jobs: Jobs) {
  const unknown = "0123456789abcdef0123456789abcdef";
  const missing = await call("GET", `/jobs/${unknown}`);
  t.equal(missing.status, 404, "an unknown job is a 404");
  t.match(missing.body, { errors: [/no job/], code: "JOB_NOT_FOUND" });
  t.equal((await call("GET", `/v1/jobs/${unknown}`)).status, 404, "under /v1 too");
  t.equal((await call("GET", "/jobs/not-a-job")).status, 400, "a malformed job id is a 400");
  t.equal(
    (await call("GET", `/jobs/${jobs.finished}/savepoints/xyz`)).status,
    400,
    "a malformed trigger id is a 400",
  );
  t.equal(
    (await call("GET", `/jobs/${jobs.finished}/savepoints/${unknown}`)).status,
    404,
    "an unknown trigger id is a 404",
  );
  t.equal(
    (await call("POST", `/jobs/${jobs.finished}/savepoints`, undefined, "{not json")).status,
    400,
    "a garbage body is a 400",
  );
  t.equal(
    (await call("POST", `/jobs/${jobs.finished}/stop`, { drain: "yes" })).status,
    400,
    "a mistyped field is a 400",
  );
  t.equal(
    (await call("POST", `/jobs/${jobs.finished}/stop`, { surprise: 1 })).status,
    400,
    "an unknown field is a 400",
  );
  t.equal(
    (await call("PATCH", `/jobs/${jobs.finished}?mode=explode`)).status,
    400,
    "an unknown cancel mode is a 400",
  );
  t.equal(
    (await call("POST", `/jobs/${unknown}/savepoints`, {})).status,
    404,
    "a savepoint of an unknown job is a 404",
  );
  t.equal(
    (await call("GET", `/jobs/${jobs.finished}/vertices/${unknown}`)).status,
    404,
    "an unknown vertex is a 404",
  );
}

/** An event-time job's downstream vertex reports the watermarks it received, as Flink's route. */
async function watermarks(
  t: Test,
  call: Call,
  upload: (bytes: Uint8Array) => Promise<string>,
  jobs: Jobs,
) {
  const jobId = await submit(call, upload, "test/integration/rest/jobs/event_time.ts", {});
  const { body } = await until(
    async () => {
      const answer = await call("GET", `/jobs/${jobId}`);
      return (answer.body as { state?: string }).state === "RUNNING" ? answer : undefined;
    },
    "the event-time job to run",
    WAIT,
  );
  const downstream = (body as { vertices: { id: string; name: string }[] }).vertices.find((v) =>
    v.name.includes("after watermarks"),
  );
  t.ok(downstream, "the job has its map vertex");
  const path = `/jobs/${jobId}/vertices/${downstream?.id}/watermarks`;
  const seen = await until(
    async () => {
      const answer = watermarksInfoSchema.parse((await call("GET", path)).body);
      return answer.length > 0 && answer.every((m) => Number(m.value) >= 1_000)
        ? answer
        : undefined;
    },
    `${path} to show event-time watermarks`,
    WAIT,
  );
  const finishedVertex = vertexHexId("check-sequences");
  const finished = watermarksInfoSchema.parse(
    (await call("GET", `/jobs/${jobs.finished}/vertices/${finishedVertex}/watermarks`)).body,
  );
  t.ok(
    finished.every((m) => m.value === "9223372036854775807"),
    `an ended input's watermark is Flink's Long.MAX_VALUE: ${JSON.stringify(finished)}`,
  );
  t.same(
    seen.map((m) => m.id),
    ["0.currentInputWatermark"],
    "one entry per subtask, Flink's metric id",
  );
  t.equal((await call("PATCH", `/jobs/${jobId}`)).status, 202, "cancel with no mode");
}

async function contract(t: Test, call: Call, upload: (bytes: Uint8Array) => Promise<string>) {
  const heartbeats = await clusterRoutes(t, call);
  const jobs = await fourJobs(t, call, upload);
  await heartbeatsMoveOn(t, call, heartbeats);
  await jobRoutes(t, call, jobs);
  await badInput(t, call, jobs);
  await asyncOperations(t, call, jobs.running);
  await watermarks(t, call, upload, jobs);
}

t.test("the MiniCluster answers Flink's REST API", async (t) => {
  const mini = await startMiniCluster({
    taskManagers: 2,
    slotsPerTaskManager: 4,
    heartbeatIntervalMs: 200,
  });
  t.teardown(() => mini.stop());
  const call: Call = async (method, path, body, raw) => {
    const init: RequestInit = { method };
    if (raw !== undefined || body !== undefined) {
      init.headers = { "content-type": "application/json" };
      init.body = raw ?? JSON.stringify(body);
    }
    const res = await mini.rest.request(path, init);
    return { status: res.status, body: await res.json() };
  };
  const upload = async (bytes: Uint8Array) => {
    const res = await mini.rest.request("/artifacts", { method: "POST", body: bytes as BodyInit });
    return ((await res.json()) as { artifact: string }).artifact;
  };
  await contract(t, call, upload);
});

t.test("a cluster of processes answers Flink's REST API", async (t) => {
  execFileSync("npm", ["run", "-s", "build"], { cwd: ROOT, stdio: "inherit" });
  const nats = await natsFor(t);
  const cluster = await clusterFor(t, nats, {
    roles: ["master", "taskmanager", "taskmanager"],
    ready: (c) =>
      until(
        async () => {
          const res = await fetch(`${c.rest}/overview`, { headers: AUTH_HEADERS });
          return res.ok && ((await res.json()) as { taskmanagers: number }).taskmanagers === 2;
        },
        "two TaskManagers registered",
        WAIT,
      ),
  });
  const call: Call = async (method, path, body, raw) => {
    const headers: Record<string, string> = { ...AUTH_HEADERS };
    const init: RequestInit = { method, headers };
    if (raw !== undefined || body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = raw ?? JSON.stringify(body);
    }
    const res = await fetch(`${cluster.rest}${path}`, init);
    return { status: res.status, body: await res.json() };
  };
  const upload = async (bytes: Uint8Array) => {
    const res = await fetch(`${cluster.rest}/artifacts`, {
      method: "POST",
      headers: AUTH_HEADERS,
      body: bytes as BodyInit,
    });
    return ((await res.json()) as { artifact: string }).artifact;
  };
  await contract(t, call, upload);
});
