/**
 * The attack suite against a real process cluster, secured as the README starts it (NATS users,
 * REST tokens): a master and two TaskManagers, with an exactly-once job running throughout.
 * Every attack (test/security/attacks/) is refused with a clear error or absorbed; after each
 * one the master answers and the job neither failed nor restarted. At the end the job finished
 * with no alert and exact counts, no leader stepped down, the malformed messages were counted
 * in /metrics with a handful of log lines, and the master's memory after the growth attacks is
 * printed and bounded. The attacker (this process) runs 10 nicer than the cluster: on a machine
 * of its own it would not take the cluster's CPU.
 */
import { readFileSync } from "node:fs";
import { getPriority, setPriority } from "node:os";
import { fileURLToPath } from "node:url";
import t, { type Test } from "tap";
import { JobState } from "../../components/core/mod.ts";
import { bundleJob } from "../../components/dataflow/internal_mod.ts";
import { clusterFor } from "../support/cluster.ts";
import { TEST_TOKEN } from "../support/rest_token.ts";
import { securedNatsFor } from "../support/secured_nats.ts";
import { exactlyOnce } from "../support/sequence.ts";
import { growthAttacks } from "./attacks/growth.ts";
import { natsAttacks } from "./attacks/nats.ts";
import { type Attack, restAttacks, restCall } from "./attacks/rest.ts";

t.setTimeout(900_000);

const clusterId = `atk${process.pid}`;
const { secrets, nats, roleEnv, clientAs } = await securedNatsFor(t, clusterId);
const readToken = readFileSync(secrets.files["rest-read-token"]!, "utf8").trim();

/** The master's JSON log lines (warn and up): what the attacks made it say. */
const masterLog: { msg?: string; level?: string | number }[] = [];
const cluster = await clusterFor(t, nats, {
  roles: [],
  env: {
    FLOTILLA_CLUSTER_ID: clusterId,
    FLOTILLA_REST_READ_TOKEN_FILE: secrets.files["rest-read-token"]!,
    // The roles' own heartbeat and lease timing (the test suite's usual 250 ms / 1.5 s would
    // count a busy second on this 2-core machine as a lost TaskManager).
    FLOTILLA_HEARTBEAT_INTERVAL: "1s",
    FLOTILLA_HEARTBEAT_TIMEOUT: "5s",
    FLOTILLA_HA_LEASE: "3s",
    // Few enough that the growth attacks reach them.
    FLOTILLA_DISPATCHER_MAX_RUNNING_JOBS: "8",
    FLOTILLA_JOBSTORE_MAX_CAPACITY: "100",
    FLOTILLA_BLOB_MAX_ARTIFACTS: "50",
    // Unused artifacts are collected as soon as a sweep sees them (the flood's all are).
    FLOTILLA_BLOB_ARTIFACT_TTL: "0",
  },
  ready: async () => {},
});
cluster.spawn(
  "master",
  { ...roleEnv("master"), FLOTILLA_LOG_LEVEL: "warn" },
  {
    onLine: (line) => {
      try {
        masterLog.push(JSON.parse(line) as (typeof masterLog)[number]);
      } catch {
        masterLog.push({ msg: line });
      }
    },
  },
);
cluster.spawn("taskmanager", roleEnv("taskmanager"));
cluster.spawn("taskmanager", roleEnv("taskmanager"));
await cluster.waitFor("two TaskManagers", async () =>
  (await cluster.overview().catch(() => undefined))?.taskmanagers === 2 ? true : undefined,
);
const master = cluster.processes[0]!;
// The attacker runs on a machine of its own: this process (the attacker, spawning nothing more
// of the cluster's) yields the two cores to the cluster, as `npm run bench -- abuse` does.
setPriority(Math.min(19, getPriority() + 10));

// The job every attack runs against: ~2 min of keyed, checkpointed, exactly-once work.
const KEYS = 4;
const PER_KEY = 30_000;
const jobId = await cluster.submit("sequence-check.ts", {
  args: { keys: String(KEYS), perKey: String(PER_KEY), rate: "1000" },
  parallelism: 2,
});
const [tm] = await cluster.taskManagers();
const target = { rest: cluster.rest, adminToken: TEST_TOKEN, readToken, jobId };

const endlessBundle = await bundleJob(
  fileURLToPath(new URL("../support/jobs/endless.ts", import.meta.url)),
);
const uploaded = await restCall(target, "POST", "/artifacts", {
  body: new Uint8Array(endlessBundle),
});
const endless = uploaded.body.artifact as string;

// A job that runs until canceled: what forged reports are sent to.
const endlessJob = (
  await restCall(target, "POST", "/jobs", { body: { artifact: endless, parallelism: 1 } })
).body.jobId as string;
await cluster.waitFor("the endless job to run", async () =>
  (await cluster.job(endlessJob)).state === JobState.RUNNING ? true : undefined,
);

const attacks: Attack[] = [
  ...restAttacks(target),
  ...natsAttacks({
    clusterId,
    jobId: endlessJob,
    tmSubject: tm!.path,
    taskManager: await clientAs("taskmanager"),
    job: await clientAs("job"),
    cli: await clientAs("cli"),
  }),
  ...growthAttacks({ ...target, artifact: endless, args: {} }),
];

/** After each attack: the master answers at once and the job neither failed nor restarted. */
async function stillHealthy(t: Test) {
  const overview = await restCall(target, "GET", "/overview");
  t.equal(overview.status, 200, "the master answers /overview");
  const job = await restCall(target, "GET", `/jobs/${jobId}`);
  if (!t.match(job.body, { flotilla: { restarts: 0 } }, "the job did not restart"))
    t.comment(JSON.stringify(masterLog.slice(-20)));
  t.not(job.body.state, JobState.FAILED, "the job did not fail");
}

t.test(`${attacks.length} attacks, with an exactly-once job running`, async (t) => {
  t.ok(attacks.length >= 24, `${attacks.length} attacks`);
  for (const attack of attacks) {
    await t.test(`${attack.family}: ${attack.name}`, async (t) => {
      t.comment(`started ${new Date().toISOString()}`);
      await attack.run(t);
      await stillHealthy(t);
    });
  }
});

t.test("after the attacks", async (t) => {
  const rss = Number(
    /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${master.pid}/status`, "utf8"))?.[1] ?? 0,
  );
  t.comment(`master RSS after the attacks: ${(rss / 1024).toFixed(0)} MiB`);
  t.ok(rss > 0 && rss < 512 * 1024, `master RSS ${(rss / 1024).toFixed(0)} MiB is under 512 MiB`);

  const listed = await restCall(target, "GET", "/jobs?limit=1000");
  const jobs = listed.body.jobs as { state: string }[];
  t.ok(jobs.length <= 100 + 2, `${jobs.length} jobs listed: jobstore.max-capacity (100) holds`);

  t.match(await restCall(target, "PATCH", `/jobs/${endlessJob}?mode=cancel`), { status: 202 });
  const job = await cluster.result(jobId, 240_000);
  t.equal(job.state, JobState.FINISHED, JSON.stringify(job.flotilla.error));
  t.equal(job.flotilla.restarts, 0, "no attack made the job restart");
  exactlyOnce(t, await cluster.results(jobId), KEYS, PER_KEY);

  const steps = masterLog.filter((l) => /stepped down|leadership lost/.test(l.msg ?? ""));
  if (!t.same(steps, [], "no leader lost its lease")) {
    const first = masterLog.indexOf(steps[0]!);
    t.comment(JSON.stringify(masterLog.slice(Math.max(0, first - 15), first + 3)));
  }

  const metrics = await fetch(`${cluster.rest}/metrics`, {
    headers: { authorization: `Bearer ${TEST_TOKEN}` },
  }).then((r) => r.text());
  const counted =
    /flotilla_rejected_messages_total\{source="resourcemanager",reason="[^"]*envelope[^"]*"\} (\d+)/i.exec(
      metrics,
    );
  t.ok(Number(counted?.[1] ?? 0) >= 10_000, `rejections counted: ${counted?.[0]}`);
  const badLines = masterLog.filter((l) => /envelope|malformed|rejected/i.test(l.msg ?? ""));
  t.ok(badLines.length <= 50, `${badLines.length} log lines for 10,000+ malformed messages`);
});
