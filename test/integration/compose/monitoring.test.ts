/**
 * compose/monitoring.yml end to end: the session layout with the Prometheus overlay runs a job
 * of known size, and Prometheus' HTTP API (PromQL) answers its operator's records in, its
 * checkpoint count and the TaskManager count as the cluster has them: every block is found and
 * scraped, the TaskManager the docker driver started included. Scrapes and Prometheus itself are
 * authenticated: a block's health /metrics refuses a caller on the cluster's network without the
 * metrics token (the driven TaskManager's too, its token copied in and not in `docker inspect`),
 * and Prometheus' API refuses a caller without its password.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { vertexHexId } from "../../../components/core/mod.ts";
import { flotilla } from "../../support/cli.ts";
import { composeProject } from "../../support/compose.ts";
import {
  docker,
  drivenTaskManagers as drivenTaskManagersOf,
  ensureDocker,
} from "../../support/docker.ts";
import { freePort } from "../../support/nats.ts";
import { until } from "../../support/poll.ts";
import { AUTH_HEADERS } from "../../support/rest_token.ts";

t.setTimeout(600_000);

const RECORDS = 12_345;
const WAIT = { timeoutMs: 180_000, intervalMs: 1000 };

const d = await ensureDocker();
// scripts/docker-env.sh (run by ensureDocker) chose the Prometheus image: the real one or its stand-in.
const prometheusImage =
  /^FLOTILLA_PROMETHEUS_IMAGE=(.+)$/m.exec(readFileSync("dist/docker.env", "utf8"))?.[1] ?? "";
const port = await freePort();
const prometheusPort = await freePort();
const project = `flotilla-monitoring-${port}`;
const clusterId = `m${port}`;
const rest = `http://127.0.0.1:${port}`;
const env = {
  ...d.composeEnv,
  FLOTILLA_PROMETHEUS_IMAGE: prometheusImage,
  FLOTILLA_PROMETHEUS_PORT: String(prometheusPort),
  FLOTILLA_REST_PORT: String(port),
  FLOTILLA_CLUSTER_ID: clusterId,
  FLOTILLA_NETWORK: project,
  FLOTILLA_LOG_LEVEL: "warn",
};
const layout = composeProject({ file: "compose/session.yml", project, env });
const overlay = (...args: string[]) => layout.compose("-f", "compose/monitoring.yml", ...args);
// What flotilla cluster secrets made for this project (testCredentials): Prometheus' user logs in
// with the password file's password; scrapes carry the metrics token.
const secret = (name: string) => readFileSync(join(layout.credentials, name), "utf8").trim();
const prometheusLogin = {
  authorization: `Basic ${Buffer.from(`flotilla:${secret("prometheus-password")}`).toString("base64")}`,
};
const metricsToken = secret("metrics-token");

/** The TaskManager containers the docker driver started for this cluster. */
const drivenTaskManagers = () => drivenTaskManagersOf(clusterId);

t.teardown(async () => {
  await overlay("down", "-v", "--remove-orphans", "-t", "2");
  const left = await drivenTaskManagers();
  if (left.length) await docker(["rm", "-f", ...left]);
});

/**
 * fetch bounded by a timer of its own (ref'd, unlike AbortSignal.timeout's): a fetch whose
 * connection a starting container's port drops can stay pending with no handle left, and the
 * test process would end with the test unfinished (seen once in CI).
 */
async function fetchWithin(url: string, init: RequestInit = {}, ms = 10_000): Promise<Response> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`no answer from ${url} in ${ms} ms`)), ms);
  try {
    return await fetch(url, { ...init, signal: abort.signal });
  } finally {
    clearTimeout(timer);
  }
}

/** An instant PromQL query: each series' labels and value. */
async function promql(query: string): Promise<{ metric: Record<string, string>; value: number }[]> {
  const url = `http://127.0.0.1:${prometheusPort}/api/v1/query?query=${encodeURIComponent(query)}`;
  const res = await fetchWithin(url, { headers: prometheusLogin });
  const body = (await res.json()) as {
    status: string;
    data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
    error?: string;
  };
  if (body.status !== "success") throw new Error(`PromQL ${query}: ${body.error}`);
  return (body.data?.result ?? []).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/**
 * The status of GET `urls` from inside the Dispatcher's container (a caller on the cluster's
 * network, as job code on a TaskManager is), without a token and with the metrics token its
 * compose secret holds; `sdTaskManager` adds the first TaskManager the RM's http_sd lists.
 */
async function fromClusterNetwork(urls: string[]): Promise<Record<string, [number, number]>> {
  const script = `
    const token = require("fs").readFileSync("/run/secrets/metrics-token", "utf8").trim();
    const auth = { headers: { authorization: "Bearer " + token } };
    (async () => {
      const sd = await (await fetch("http://resourcemanager:8080/metrics/targets", auth)).json();
      const urls = ${JSON.stringify(urls)}.map((u) =>
        u === "sdTaskManager" ? "http://" + sd[0].targets[0] + "/metrics" : u);
      const out = {};
      for (const u of urls) out[u] = [(await fetch(u)).status, (await fetch(u, auth)).status];
      console.log(JSON.stringify(out));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = await overlay("exec", "-T", "dispatcher", "node", "-e", script);
  if (r.code !== 0) throw new Error(`node in the dispatcher container: ${r.output}`);
  return JSON.parse(r.output.trim().split("\n").at(-1)!) as Record<string, [number, number]>;
}

/** One value of the master's own /metrics text (REST, read scope), by series name and labels. */
async function masterValue(name: string, jobId: string): Promise<number | undefined> {
  const res = await fetchWithin(`${rest}/metrics`, { headers: AUTH_HEADERS });
  const text = await res.text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`${name}{`) && l.includes(`job_id="${jobId}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

t.test("Prometheus answers a job's records, checkpoints and TaskManagers", async (t) => {
  const up = await overlay("up", "-d");
  t.equal(up.code, 0, up.output);
  await until(
    async () => (await fetchWithin(`${rest}/healthz`).catch(() => undefined))?.ok,
    "the Dispatcher's /healthz",
    WAIT,
  );

  const run = await flotilla(
    [
      "run",
      "test/integration/compose/monitoring_job.ts",
      "--cluster",
      rest,
      "--detached",
      "--arg",
      `records=${RECORDS}`,
    ],
    env,
  );
  t.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
  const jobId = /\b[0-9a-f]{32}\b/.exec(run.stdout)?.[0] ?? "no job id printed";

  // Every scrape job has its targets up: the master, the ResourceManager, the driven TaskManager.
  const targets = await until(
    async () => {
      const ups = await promql("up == 1");
      const jobs = new Set(ups.map((s) => s.metric.job));
      return ["flotilla-dispatcher", "flotilla-resourcemanager", "flotilla-taskmanager"].every(
        (j) => jobs.has(j),
      )
        ? ups
        : undefined;
    },
    "every block's target up in Prometheus",
    WAIT,
  );
  t.ok(targets.length >= 3, `targets up: ${targets.map((s) => s.metric.instance).join(", ")}`);

  // Prometheus' own API: only with its user's password (basic auth, --web.config.file).
  const query = `http://127.0.0.1:${prometheusPort}/api/v1/query?query=up`;
  t.equal((await fetchWithin(query)).status, 401, "Prometheus' API without the password: 401");
  const wrong = `Basic ${Buffer.from("flotilla:not-the-password").toString("base64")}`;
  t.equal(
    (await fetchWithin(query, { headers: { authorization: wrong } })).status,
    401,
    "and with a wrong one",
  );
  t.equal((await fetchWithin(query, { headers: prometheusLogin })).status, 200, "with it: 200");

  // The blocks' health /metrics from the cluster's network: 401 without the metrics token.
  const scrapes = await fromClusterNetwork([
    "http://dispatcher:8080/metrics",
    "http://resourcemanager:8080/metrics",
    "http://resourcemanager:8080/metrics/targets",
    "sdTaskManager",
    "http://resourcemanager:8080/healthz",
  ]);
  for (const [url, [without, withToken]] of Object.entries(scrapes)) {
    if (url.endsWith("/healthz")) {
      t.equal(without, 200, `${url} stays open for the HEALTHCHECK`);
      continue;
    }
    t.equal(without, 401, `${url} without a token: 401`);
    t.equal(withToken, 200, `${url} with the metrics token: 200`);
  }
  t.ok(
    Object.keys(scrapes).some((u) => !u.includes("dispatcher:") && !u.includes("resourcemanager:")),
    "a driven TaskManager's /metrics was among them",
  );

  // The operator's records in: exactly the job's size, once it went through.
  const count = vertexHexId("count");
  const recordsIn = await until(
    async () => {
      const series = await promql(
        `flink_taskmanager_job_task_numRecordsIn{job_id="${jobId}",task_id="${count}"}`,
      );
      return series.length === 1 && series[0]!.value === RECORDS ? series[0] : undefined;
    },
    `${RECORDS} records into the count operator, in Prometheus`,
    WAIT,
  );
  t.equal(recordsIn.value, RECORDS, "the operator's records in, as the job's size");
  t.equal(recordsIn.metric.subtask_index, "0");
  t.ok(recordsIn.metric.tm_id, "the series names its TaskManager");
  t.equal(recordsIn.metric.job_name, "monitored", "and its job, by name (from the deployment)");

  // The TaskManager count: Prometheus' from the master, the driver's containers, the scraped TMs.
  const containers = await drivenTaskManagers();
  t.equal(containers.length, 1, "one slot: one TaskManager container");
  // The driver copied the metrics token in like the NATS seeds: its path in the env, no value.
  const inspected = (await docker(["inspect", containers[0]!])).stdout;
  t.notOk(inspected.includes(metricsToken), "no metrics token in the TaskManager's docker inspect");
  t.match(inspected, "FLOTILLA_METRICS_TOKEN_FILE=/run/secrets/metrics-token", "only its path");
  const registered = await promql("flink_jobmanager_numRegisteredTaskManagers");
  t.equal(registered[0]?.value, containers.length, "registered TaskManagers, as Docker has them");
  const scraped = await promql('count(up{job="flotilla-taskmanager"} == 1)');
  t.equal(scraped[0]?.value, containers.length, "and each is scraped (http_sd from the RM)");

  // The checkpoint count: Prometheus' last scrape equals the JobManager's count at some moment
  // (the count moves every second, a scrape every 5 s: asked until both agree).
  const checkpoints = await until(
    async () => {
      const [series] = await promql(
        `flink_jobmanager_job_numberOfCompletedCheckpoints{job_id="${jobId}"}`,
      );
      const own = await masterValue("flink_jobmanager_job_numberOfCompletedCheckpoints", jobId);
      return series && own !== undefined && own > 0 && series.value === own ? own : undefined;
    },
    "the same checkpoint count in Prometheus and in the JobManager",
    WAIT,
  );
  t.ok(checkpoints > 0, `${checkpoints} checkpoints completed`);
  t.match(
    (await promql(`flink_jobmanager_job_numRestarts{job_id="${jobId}"}`))[0]?.metric,
    { job_name: "monitored" },
    "job series carry Flink's job_name",
  );
  const heap = await promql("flink_taskmanager_Status_JVM_Memory_Heap_Used");
  t.ok(heap.length >= 1 && heap.every((s) => s.value > 0), "the TaskManager's process metrics");
});
