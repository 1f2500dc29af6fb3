/**
 * A TaskManager's job processes, run as users run the roles (real nats-server, a master and a
 * TaskManager from bin/flotilla.js): a job's tasks run in a process of their own, a child of the
 * TaskManager, with no environment; they cannot read the cluster's credentials mounted beside the
 * job's secrets, and read their own secrets with env.secret. Job code that writes its own message
 * to the TaskManager, asking for another job's data subjects, has its process killed and its job
 * failed naming why, while the other job finishes exactly once; a job that ends its own process
 * fails, and the TaskManager keeps serving. With `taskmanager.job-process: none` the same code
 * reads what it likes: what the job process takes away.
 */

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t, { type Test } from "tap";
import { JobState } from "../../components/core/mod.ts";
import { clusterFor } from "../support/cluster.ts";
import { exactlyOnce } from "../support/sequence.ts";
import { natsFor } from "../support/tap.ts";

t.setTimeout(180_000);

const PROBE = "test/support/jobs/task_probe.ts";
const BIN = fileURLToPath(new URL("../../bin/flotilla.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "flotilla-job-process-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const secrets = join(dir, "secrets");
mkdirSync(secrets);
writeFileSync(join(secrets, "db-password"), "hunter2\n");
// A cluster credential where job secrets are mounted (as compose mounts them): not the job's.
const credential = join(secrets, "nats-taskmanager.nk");
writeFileSync(credential, "SUATASKMANAGERSEED\n");
// The jobs' input, which the TaskManager lets them read (taskmanager.job-process-read).
const data = join(dir, "data");
mkdirSync(data);
writeFileSync(join(data, "words.txt"), "to be or not to be\n");
const elsewhere = join(dir, "elsewhere.txt");
writeFileSync(elsewhere, "not for jobs\n");

/** The JSON the probe put in its failure message. */
function probed(error: { message: string } | undefined): Record<string, unknown> {
  const json = error?.message.match(/probe:(\{.*\})/)?.[1];
  if (!json) throw new Error(`no probe result in ${JSON.stringify(error)}`);
  return JSON.parse(json) as Record<string, unknown>;
}

async function sessionWith(
  t: Test,
  jobProcess: "process" | "none",
  tmEnv: Record<string, string> = {},
) {
  const nats = await natsFor(t);
  const cluster = await clusterFor(t, nats, {
    roles: ["master"],
    env: { FLOTILLA_SECRETS_DIR: secrets },
    ready: (c) => c.overview(),
  });
  const logs: string[] = [];
  const tm = cluster.spawn(
    "taskmanager",
    {
      FLOTILLA_TASKMANAGER_SLOTS: "4",
      FLOTILLA_TASKMANAGER_JOB_PROCESS: jobProcess,
      FLOTILLA_LOG_LEVEL: "warn",
      ...tmEnv,
    },
    { onLine: (line) => logs.push(line) },
  );
  await cluster.waitFor("the TaskManager", async () =>
    (await cluster.overview()).taskmanagers === 1 ? true : undefined,
  );
  return { cluster, tm, logs };
}

t.test("a job's tasks run in a process of their own, without the cluster's secrets", async (t) => {
  const { cluster, tm } = await sessionWith(t, "process");
  const jobId = await cluster.submit(PROBE, { args: { read: credential, secret: "db-password" } });
  const done = await cluster.result(jobId);
  t.equal(done.state, JobState.FAILED);
  const found = probed(done.flotilla.error);
  t.not(found.pid, tm.pid, "not the TaskManager's process");
  t.equal(found.ppid, tm.pid, "a child of the TaskManager");
  t.equal(found.env, 0, "an empty environment");
  t.equal(
    found.read,
    "ERR_ACCESS_DENIED",
    "the cluster credential beside the secrets is unreadable",
  );
  t.equal(found.secret, "hunter2", "the job's own secret is readable through env.secret");
});

t.test("a job reads the data directories it is given, and only those", async (t) => {
  const { cluster } = await sessionWith(t, "process", {
    FLOTILLA_TASKMANAGER_JOB_PROCESS_READ: data,
  });
  const probe = await cluster.submit(PROBE, { args: { read: join(data, "words.txt") } });
  t.equal(probed((await cluster.result(probe)).flotilla.error).read, "allowed");
  const words = await cluster.submit("wordcount.ts", { args: { input: join(data, "words.txt") } });
  const counted = await cluster.result(words);
  t.equal(counted.state, JobState.FINISHED, JSON.stringify(counted.flotilla.error));
  const counts = Object.values(await cluster.results(words)).flat() as {
    word: string;
    count: number;
  }[];
  t.equal(counts.find((c) => c.word === "to")?.count, 2);
  const refused = await cluster.submit("wordcount.ts", { args: { input: elsewhere } });
  const failed = await cluster.result(refused);
  t.equal(failed.state, JobState.FAILED);
  t.match(
    failed.flotilla.error?.message,
    /cannot open .*elsewhere\.txt.*reads only .*taskmanager\.job-process-read \(FLOTILLA_TASKMANAGER_JOB_PROCESS_READ\)/,
    "the refusal names the key that allows it",
  );
});

t.test("a TaskManager refuses to let jobs read where the cluster's credentials are", async (t) => {
  const nats = await natsFor(t);
  const cluster = await clusterFor(t, nats, { roles: [], ready: async () => {} });
  const tm = spawn(process.execPath, [BIN, "start", "taskmanager"], {
    env: {
      ...cluster.env,
      FLOTILLA_SECRETS_DIR: secrets,
      FLOTILLA_TASKMANAGER_JOB_PROCESS_READ: `${data},${dir}`,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.teardown(() => void tm.kill("SIGKILL"));
  const output: Buffer[] = [];
  tm.stdout.on("data", (b: Buffer) => output.push(b));
  tm.stderr.on("data", (b: Buffer) => output.push(b));
  const code = await new Promise((resolve) => tm.once("exit", resolve));
  t.not(code, 0, "it does not start");
  t.match(
    Buffer.concat(output).toString(),
    /taskmanager\.job-process-read names \S+, which holds \S+secrets, where the cluster's credentials are/,
  );
});

t.test("with taskmanager.job-process: none the same code runs in the TaskManager", async (t) => {
  const { cluster, tm } = await sessionWith(t, "none");
  const jobId = await cluster.submit(PROBE, { args: { read: credential } });
  const found = probed((await cluster.result(jobId)).flotilla.error);
  t.equal(found.pid, tm.pid, "the TaskManager's own process");
  t.equal(found.read, "allowed", "and what it can read");
  t.ok((found.env as number) > 0, "and its environment");
});

t.test(
  "job code that asks its TaskManager for another job's data is killed; the other job is untouched",
  async (t) => {
    const { cluster, logs } = await sessionWith(t, "process");
    const victim = await cluster.submit("sequence-check.ts", {
      args: { keys: "4", perKey: "4000", rate: "8000" },
    });
    await cluster.waitFor("the victim to run", async () =>
      (await cluster.job(victim)).state === JobState.RUNNING ? true : undefined,
    );
    const clusterId = cluster.env.FLOTILLA_CLUSTER_ID;
    const forger = await cluster.submit(PROBE, {
      args: { forge: `flotilla.${clusterId}.data.${victim}.>` },
    });
    const forged = await cluster.result(forger);
    t.equal(forged.state, JobState.FAILED);
    t.match(
      forged.flotilla.error?.message,
      /may use its own job's data subjects/,
      "failed naming why",
    );
    t.ok(
      logs.some((line) => line.includes("job process killed") && line.includes(forger)),
      "the TaskManager logs the kill, with the job",
    );
    const done = await cluster.result(victim, 60_000);
    t.equal(done.state, JobState.FINISHED, JSON.stringify(done.flotilla.error));
    t.equal(done.flotilla.restarts, 0, "the victim never noticed");
    exactlyOnce(t, await cluster.results(victim), 4, 4000);
  },
);

t.test("a job that ends its own process fails; the TaskManager keeps serving", async (t) => {
  const { cluster } = await sessionWith(t, "process");
  const exiting = await cluster.submit(PROBE, { args: { exit: "3" } });
  const failed = await cluster.result(exiting);
  t.equal(failed.state, JobState.FAILED);
  t.match(failed.flotilla.error?.message, /job process of job \S+ ended \(exit 3\)/);
  const after = await cluster.submit("sequence-check.ts", {
    args: { keys: "2", perKey: "500", rate: "5000" },
  });
  const done = await cluster.result(after);
  t.equal(done.state, JobState.FINISHED, JSON.stringify(done.flotilla.error));
  exactlyOnce(t, await cluster.results(after), 2, 500);
});
