/**
 * compose/job.yml end to end: a per-job stack is what a CI pipeline runs, and its exit code is the
 * job's result. Driven as a user would: `flotilla run <job> --target compose-job`. A secret given
 * as a compose secret reaches the job, and is in no log and no container environment.
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { JobState } from "../../../components/core/mod.ts";
import { events, flotilla, type JobStackEvent } from "../../support/cli.ts";
import { testCredentials } from "../../support/compose.ts";
import { docker, ensureDocker, inspect } from "../../support/docker.ts";

t.setTimeout(600_000);

const d = await ensureDocker();
const env = {
  ...d.composeEnv,
  FLOTILLA_LOG_LEVEL: "info",
  // Where run --target compose-job makes the stack's NATS users (not ~/.flotilla).
  FLOTILLA_CREDENTIALS_DIR: testCredentials("flotilla-job-test"),
};
const leftovers = async (project: string) =>
  (await docker(["ps", "-aq", "--filter", `label=com.docker.compose.project=${project}`])).stdout
    .split("\n")
    .filter(Boolean);

t.test("the sequence-check job as its own stack exits 0, and the stack is removed", async (t) => {
  const project = `flotilla-job-ok-${process.pid}`;
  const run = await flotilla(
    [
      "run",
      "examples/sequence-check.ts",
      "--target",
      "compose-job",
      "--project",
      project,
      "--arg",
      "keys=4",
      "--arg",
      "perKey=500",
      "--json",
    ],
    env,
  );
  t.equal(run.code, 0, run.stderr);
  const all = events<JobStackEvent>(run.stdout);
  t.match(all[0], { event: "stack", project, slots: 2, taskmanagers: 1 });
  t.match(all.at(-1), { event: "ended", state: JobState.FINISHED, exitCode: 0 });
  t.ok(
    all.some((e) => e.event === "log" && /job mode: starting the job/.test(e.msg ?? "")),
    "the jobmanager's log is followed",
  );
  t.same(await leftovers(project), [], "no container left");
});

t.test("a failing job's stack exits non-zero", async (t) => {
  const run = await flotilla(
    ["run", "test/support/jobs/failing.ts", "--target", "compose-job"],
    env,
  );
  t.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
  t.match(run.stdout, /job FAILED \(exit 1\)/);
});

t.test("a compose secret reaches the job and appears in no log and no env", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "flotilla-secret-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const secret = `s3cret-${process.pid}-${Date.now()}`;
  await writeFile(join(dir, "job"), secret);
  const project = `flotilla-job-secret-${process.pid}`;
  const down = () => flotilla(["cluster", "down", "--layout", "job", "--project", project], env);
  t.teardown(down);
  const expect = createHash("sha256").update(secret).digest("hex");
  const run = await flotilla(
    [
      "run",
      "test/support/jobs/secret.ts",
      "--target",
      "compose-job",
      "--project",
      project,
      "--keep",
      "--arg",
      `expect=${expect}`,
    ],
    { ...env, FLOTILLA_JOB_SECRET_FILE: join(dir, "job") },
  );
  t.equal(run.code, 0, `the job saw the secret: ${run.stdout}\n${run.stderr}`);
  t.notMatch(run.stdout + run.stderr, secret);
  const containers = await leftovers(project);
  t.ok(containers.length >= 3, "the kept stack: nats, jobmanager, a taskmanager");
  for (const id of containers) {
    const info = await inspect(id);
    t.notMatch(JSON.stringify(info.Config.Env), secret, `${info.Name}: not in the env`);
    t.notMatch(JSON.stringify(info.Config), secret, `${info.Name}: not in the config`);
    const logs = await docker(["logs", id]);
    t.notMatch(logs.stdout + logs.stderr, secret, `${info.Name}: not in the log`);
  }
  const logs = await flotilla(["cluster", "logs", "--layout", "job", "--project", project], env);
  t.notMatch(logs.stdout, secret);
  t.equal((await down()).code, 0);
  t.same(await leftovers(project), []);
});

t.test("the same secret job without the secret fails: the check is real", async (t) => {
  const run = await flotilla(
    ["run", "test/support/jobs/secret.ts", "--target", "compose-job", "--arg", "expect=00"],
    env,
  );
  t.not(run.code, 0);
});
