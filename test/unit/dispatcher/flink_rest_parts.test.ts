/**
 * The parts behind the Dispatcher's Flink REST API that the contract test cannot drive to their
 * edges: the async operation registry's bounds and idempotency, backpressure levels, the cluster
 * settings filter, and the REST guard on `/v1` paths.
 */
import { Hono } from "hono";
import t from "tap";
import type { Clock } from "../../../components/core/mod.ts";
import { AsyncOperations } from "../../../components/dispatcher/async_operations.ts";
import { clusterConfigurationInfo } from "../../../components/dispatcher/flink_cluster_views.ts";
import { BackPressureSampler } from "../../../components/dispatcher/flink_vertex_metrics.ts";
import type { VertexDetails } from "../../../components/protocol/mod.ts";
import { backPressureLevel } from "../../../components/protocol/mod.ts";
import { generateToken, guardRest } from "../../../components/security/mod.ts";

function manualClock(start = 1_000_000) {
  let at = start;
  const clock: Clock = {
    now: () => at,
    monotonic: () => at,
    setTimer: () => undefined,
    clearTimer: () => {},
  };
  return { clock, advance: (ms: number) => (at += ms) };
}

/** A promise and its resolvers, to finish an operation when the test says so. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const JOB = "0123456789abcdef0123456789abcdef";
const ID = (n: number) => n.toString(16).padStart(32, "0");

t.test("a trigger id runs its operation once; its outcome answers until it expires", async (t) => {
  const { clock, advance } = manualClock();
  const operations = new AsyncOperations({ clock, storeDurationMs: 1000 });
  const savepoint = deferred<string>();
  let runs = 0;
  const run = () => {
    runs++;
    return savepoint.promise;
  };
  t.equal(operations.trigger(JOB, ID(1), run), ID(1));
  t.equal(operations.trigger(JOB, ID(1), run), ID(1), "the retry answers the same id");
  t.same(operations.status(JOB, ID(1)), { status: { id: "IN_PROGRESS" } });
  savepoint.resolve("snapshots/sp-1");
  await savepoint.promise;
  await new Promise((r) => setImmediate(r));
  t.equal(runs, 1, "the retry started nothing");
  t.same(operations.status(JOB, ID(1)), {
    status: { id: "COMPLETED" },
    operation: { location: "snapshots/sp-1" },
  });
  advance(999);
  t.ok(operations.has(JOB, ID(1)), "kept for the store duration");
  advance(1);
  t.notOk(operations.has(JOB, ID(1)), "gone after it");
  t.throws(() => operations.status(JOB, ID(1)), { code: "NOT_FOUND" });
  t.throws(() => operations.status(ID(9), ID(1)), { code: "NOT_FOUND" }, "per job");
});

t.test("a failed operation answers Flink's failure-cause", async (t) => {
  const operations = new AsyncOperations();
  const failing = deferred<string>();
  const id = operations.trigger(JOB, undefined, () => failing.promise);
  t.match(id, /^[0-9a-f]{32}$/, "a generated id is 32 hex");
  failing.reject(new Error("the job ended"));
  await failing.promise.catch(() => {});
  await new Promise((r) => setImmediate(r));
  const result = operations.status(JOB, id);
  t.match(result, {
    status: { id: "COMPLETED" },
    operation: { "failure-cause": { class: "FlotillaError", "stack-trace": /the job ended/ } },
  });
});

t.test("the registry is bounded: completed outcomes make room, running ones do not", async (t) => {
  const operations = new AsyncOperations({ maxOperations: 2 });
  const first = deferred<string>();
  operations.trigger(JOB, ID(1), () => first.promise);
  operations.trigger(JOB, ID(2), () => new Promise<string>(() => {}));
  t.throws(
    () => operations.trigger(JOB, ID(3), () => Promise.resolve("x")),
    { code: "TOO_MANY_REQUESTS" },
    "two running: a third is refused",
  );
  first.resolve("done");
  await first.promise;
  await new Promise((r) => setImmediate(r));
  t.equal(
    operations.trigger(JOB, ID(3), () => Promise.resolve("x")),
    ID(3),
  );
  t.notOk(operations.has(JOB, ID(1)), "the oldest completed outcome made room");
  t.equal(operations.size, 2);
});

t.test("backpressure levels follow Flink's thresholds", (t) => {
  t.equal(backPressureLevel(0), "ok");
  t.equal(backPressureLevel(0.1), "ok");
  t.equal(backPressureLevel(0.11), "low");
  t.equal(backPressureLevel(0.5), "low");
  t.equal(backPressureLevel(0.51), "high");
  t.end();
});

t.test("backpressure is measured between the latest reports, the vertex at its worst", (t) => {
  const sampler = new BackPressureSampler();
  const vertex = (a: Record<string, number>, b: Record<string, number>): VertexDetails => ({
    id: "1-map",
    name: "map",
    parallelism: 2,
    tasks: { RUNNING: 2 },
    recordsIn: 0,
    recordsOut: 0,
    "start-time": 1,
    "end-time": -1,
    subtasks: [a, b].map((metrics, subtask) => ({
      subtask,
      state: "RUNNING",
      taskmanager: "tm-1" as never,
      recordsIn: 0,
      recordsOut: 0,
      attempt: 0,
      host: "tm-1",
      "taskmanager-id": "tm-1" as never,
      "start-time": 1,
      "end-time": -1,
      metrics,
    })),
  });
  // Over their whole run: subtask 0 back-pressured 60% of the time.
  const first = sampler.info(
    JOB,
    vertex(
      { busyMs: 200, idleMs: 200, backPressuredMs: 600 },
      { busyMs: 900, idleMs: 100, backPressuredMs: 0 },
    ),
    5,
  );
  t.match(first, { status: "ok", "backpressure-level": "high", "end-timestamp": 5 });
  // Since then subtask 0 was busy only: the window between the two reports says ok.
  const second = sampler.info(
    JOB,
    vertex(
      { busyMs: 1200, idleMs: 200, backPressuredMs: 600 },
      { busyMs: 900, idleMs: 500, backPressuredMs: 500 },
    ),
    6,
  );
  t.match(second, {
    "backpressure-level": "high",
    subtasks: [
      { subtask: 0, "backpressure-level": "ok", ratio: 0, busyRatio: 1 },
      // 400 idle and 500 back-pressured since: 5/9 of its time.
      { subtask: 1, "backpressure-level": "high", ratio: 5 / 9, idleRatio: 4 / 9 },
    ],
  });
  t.same(
    sampler.info(JOB, { ...vertex({}, {}), subtasks: [] }, 7),
    { status: "deprecated" },
    "nothing reported: Flink's deprecated answer",
  );
  t.end();
});

t.test("/jobmanager/config leaves out every setting that names a secret", (t) => {
  const entries = clusterConfigurationInfo({
    "cluster.id": "c1",
    "rest.port": 8081,
    "rest.token-file": "/secrets/rest-token",
    "nats.nkey-seed-file": "/secrets/seed",
    "tls.private-key": "-----BEGIN",
    "ha.lease": 1500,
    "web.submit.enable": true,
  });
  t.same(entries, [
    { key: "cluster.id", value: "c1" },
    { key: "ha.lease", value: "1500" },
    { key: "rest.port", value: "8081" },
    { key: "web.submit.enable", value: "true" },
  ]);
  t.end();
});

t.test("the REST guard treats /v1 paths as the routes they are", async (t) => {
  const reached: string[] = [];
  const inner = new Hono().all("*", (c) => {
    reached.push(`${c.req.method} ${c.req.path}`);
    return c.json({});
  });
  const admin = generateToken();
  const read = generateToken();
  const guard = guardRest(inner, { tokens: { admin: [admin], read: [read] }, submit: false });
  const call = (method: string, path: string, token?: string) =>
    guard.fetch(
      new Request(`http://x${path}`, {
        method,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      }),
    );
  t.equal((await call("GET", "/v1/healthz")).status, 200, "/v1/healthz is open like /healthz");
  t.equal((await call("GET", "/v1/jobs")).status, 401, "other /v1 routes need a token");
  t.equal(
    (await call("PATCH", `/v1/jobs/${JOB}`, read)).status,
    403,
    "a read token may not cancel",
  );
  t.equal((await call("POST", "/v1/jobs", admin)).status, 403, "submission off covers /v1/jobs");
  t.equal((await call("POST", "/v1/artifacts", admin)).status, 403, "and /v1/artifacts");
  t.equal(
    (await call("POST", `/v1/jobs/${JOB}/stop`, admin)).status,
    200,
    "a stop is no submission",
  );
  t.same(reached, ["GET /v1/healthz", `POST /v1/jobs/${JOB}/stop`]);
});
