/**
 * Per-job secrets on a session cluster of processes (real nats-server with the generated users, a
 * master and a TaskManager running job processes, logging at debug): a secret submitted with one
 * job (`flotilla run --secret name=file`, as a user types it) is read by that job's code with
 * env.secret where its graph is built and in its tasks; another job on the same TaskManager, at
 * the same time, reads its own value or, without one, cannot build; the value appears in no log
 * line, no REST answer and no message the job user sees. Each sweep first finds a probe it must
 * find, so a sweep that looks nowhere fails instead of passing.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "@nats-io/transport-node";
import t from "tap";
import { clusterFor } from "../support/cluster.ts";
import { natsUserOptions } from "../support/compose.ts";
import { securedNatsFor } from "../support/secured_nats.ts";

t.setTimeout(180_000);

const BIN = fileURLToPath(new URL("../../bin/flotilla.js", import.meta.url));
const JOB = "test/support/jobs/secret.ts";
const clusterId = `sec${process.pid}`;
const { dir, secrets, nats, roleEnv } = await securedNatsFor(t, clusterId);
const canary = `canary-${randomBytes(12).toString("hex")}`;
const other = `other-${randomBytes(12).toString("hex")}`;
const canaryFile = join(dir, "canary.txt");
const otherFile = join(dir, "other.txt");
writeFileSync(canaryFile, `${canary}\n`);
writeFileSync(otherFile, `${other}\n`);
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

const logs: string[] = [];
const cluster = await clusterFor(t, nats, {
  roles: [],
  env: { FLOTILLA_CLUSTER_ID: clusterId, FLOTILLA_LOG_LEVEL: "debug" },
  ready: async () => {},
});
cluster.spawn("master", roleEnv("master"), { onLine: (line) => logs.push(line) });
cluster.spawn(
  "taskmanager",
  { ...roleEnv("taskmanager"), FLOTILLA_TASKMANAGER_SLOTS: "4" },
  { onLine: (line) => logs.push(line) },
);
await cluster.waitFor("the TaskManager", async () =>
  (await cluster.overview().catch(() => undefined))?.taskmanagers === 1 ? true : undefined,
);

// Everything the job user sees while the jobs run.
const jobUser = await connect({
  servers: nats.url,
  ...natsUserOptions(secrets.dir, "job"),
  maxReconnectAttempts: 0,
});
t.teardown(() => jobUser.close());
const seen: Uint8Array[] = [];
jobUser.subscribe(">", { callback: (_err, msg) => void seen.push(msg.data) });
jobUser.publish("probe.secrets-test", "the job user's own probe");

/** `flotilla run` as a user types it; resolves with its exit code and output. */
function flotilla(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [BIN, "run", ...args, "--cluster", cluster.rest], {
    env: { ...cluster.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const chunks: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => chunks.push(b));
  child.stderr.on("data", (b: Buffer) => chunks.push(b));
  return new Promise((resolve) =>
    child.once("close", (code) => resolve({ code, out: Buffer.concat(chunks).toString() })),
  );
}

// Two jobs at once on one TaskManager, each with its own value of the secret `job`.
const [mine, theirs] = await Promise.all([
  flotilla([JOB, "--arg", `expect=${sha(canary)}`, "--secret", `job=${canaryFile}`]),
  flotilla([JOB, "--arg", `expect=${sha(canary)}`, "--secret", `job=${otherFile}`]),
]);
// And one with no secret at all.
const none = await flotilla([JOB, "--arg", `expect=${sha(canary)}`]);
const outputs = [mine.out, theirs.out, none.out];

t.test(
  "the job submitted with the secret reads it where its graph is built and in its tasks",
  async (t) => {
    t.equal(mine.code, 0, mine.out);
    t.match(mine.out, /FINISHED/);
  },
);

t.test("another job on the same TaskManager reads its own value, never the first's", async (t) => {
  t.not(theirs.code, 0);
  t.match(theirs.out, /the secret the TaskManager read is not the expected one/);
});

t.test("a job submitted without it cannot read it: its submission is refused", async (t) => {
  t.not(none.code, 0);
  t.match(none.out, /secret 'job' was not submitted with the job/);
});

t.test("no log line, CLI output or REST answer carries a secret's value", async (t) => {
  const jobs = (await cluster.call("GET", "/jobs")).body as { jobs: { id: string }[] };
  t.ok(jobs.jobs.length >= 2, "probe: the jobs are listed");
  const paths = ["/overview", "/jobs", ...jobs.jobs.map((j) => `/jobs/${j.id}`), "/metrics"];
  const answers = await Promise.all(
    paths.map(async (path) => JSON.stringify((await cluster.call("GET", path)).body)),
  );
  t.ok(
    answers.some((a) => a.includes("secret-check")),
    "probe: the job's name is in the answers",
  );
  t.ok(
    logs.some((line) => line.includes(jobs.jobs[0]!.id)),
    `probe: a job id is in the logs (${logs.length} lines)`,
  );
  for (const value of [canary, other]) {
    t.same(
      logs.filter((line) => line.includes(value)),
      [],
      "no log line",
    );
    t.notOk(
      outputs.some((o) => o.includes(value)),
      "no CLI output",
    );
    for (const [i, answer] of answers.entries()) t.notOk(answer.includes(value), paths[i]!);
  }
});

t.test("no message the job user sees carries a secret's value", async (t) => {
  await jobUser.flush();
  const has = (needle: string) => seen.some((data) => Buffer.from(data).includes(needle));
  t.ok(has("the job user's own probe"), `probe: it saw its own message (${seen.length} seen)`);
  t.notOk(has(canary));
  t.notOk(has(other));
});
