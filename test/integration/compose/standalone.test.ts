/**
 * compose/standalone.yml end to end, on a real Docker daemon with the project's own images,
 * driven the way a user drives it: `flotilla cluster up|down` and `flotilla run --cluster`.
 * Word count with the right counts; the REST API takes only the tokens `cluster up` generated; scaling to 3 TaskManagers adds their slots; `docker kill` of a
 * TaskManager mid-job recovers with exactly-once results; `down` leaves nothing behind.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { isJobEnd, JobState } from "../../../components/core/mod.ts";
import { httpTransport } from "../../../components/rpc/mod.ts";
import { withBearer } from "../../../components/security/mod.ts";
import { type ClusterUp, eventOf, events, flotilla } from "../../support/cli.ts";
import { composeProject } from "../../support/compose.ts";
import { docker, ensureDocker } from "../../support/docker.ts";
import { freePort } from "../../support/nats.ts";
import { until } from "../../support/poll.ts";
import { dispatcherRest } from "../../support/rest.ts";
import { exactlyOnce } from "../../support/sequence.ts";

t.setTimeout(600_000);

const d = await ensureDocker();
const port = await freePort();
const project = `flotilla-sa-${port}`;
const rest = `http://127.0.0.1:${port}`;
/** As a user's: empty, so `cluster up` generates the secrets and the CLI finds its token there. */
const credentials = mkdtempSync(join(tmpdir(), "flotilla-sa-credentials-"));
const env = {
  ...d.composeEnv,
  FLOTILLA_CREDENTIALS_DIR: credentials,
  // Not the test token: the one `cluster up` generates, found by the CLI without a setting.
  FLOTILLA_REST_TOKEN_FILE: "",
  FLOTILLA_REST_PORT: String(port),
  FLOTILLA_HEARTBEAT_TIMEOUT: "3s",
  // info: each TaskManager logs its id, which is how the test finds the container to kill.
  FLOTILLA_LOG_LEVEL: "info",
};
const cluster = (action: string, ...more: string[]) =>
  flotilla(["cluster", action, "--layout", "standalone", "--project", project, ...more], env);
/** The published REST API, typed by the Dispatcher's contract. */
const token = () => readFileSync(join(credentials, "rest-token"), "utf8").trim();
const api = dispatcherRest({
  target: rest,
  send: (request, timeoutMs) => withBearer(httpTransport(rest), token()).send(request, timeoutMs),
});
/** The project's containers (their ids), by compose's labels. */
const containers = composeProject({ file: "compose/standalone.yml", project, env }).ids;

t.teardown(async () => {
  await cluster("down");
  rmSync(credentials, { recursive: true, force: true });
});

t.test("up with 2 TaskManagers, then word count gives the right counts", async (t) => {
  const up = await cluster("up", "--scale", "2", "--json");
  t.equal(up.code, 0, up.stderr);
  t.match(events<ClusterUp>(up.stdout).at(-1), {
    project,
    rest,
    overview: { taskmanagers: 2, "slots-total": 4 },
  });
  // The tasks run in the TaskManager containers: the input is their /data (examples/data).
  const run = await flotilla(
    ["run", "examples/wordcount.ts", "--cluster", rest, "--arg", "input=/data/words.txt"],
    env,
  );
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /\{"word":"to","count":13\}/);
  t.match(run.stdout, /\{"word":"the","count":6\}/);
  t.match(run.stdout, /: 51 results/);
});

t.test("the REST API takes the generated tokens only, kept out of env and inspect", async (t) => {
  t.equal(statSync(credentials).mode & 0o777, 0o700, "the credentials dir is its user's only");
  const admin = token();
  const read = readFileSync(join(credentials, "rest-read-token"), "utf8").trim();
  const status = async (path: string, bearer?: string, method = "GET") =>
    (
      await fetch(`${rest}${path}`, {
        method,
        ...(bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {}),
      })
    ).status;
  t.equal(await status("/healthz"), 200, "/healthz is open");
  t.equal(await status("/jobs"), 401, "no token: 401");
  t.equal(await status("/jobs", "x".repeat(43)), 401, "a wrong token: 401");
  t.equal(await status("/jobs", read), 200, "the read token reads");
  t.equal(await status("/jobs", admin), 200, "the admin token reads");
  t.equal(await status("/jobs/0/stop", read, "POST"), 403, "the read token may not stop a job");
  const [master] = await composeProject({ file: "compose/standalone.yml", project, env }).ids(
    "label=com.docker.compose.service=master",
  );
  const inspected = (await docker(["inspect", master!])).stdout;
  t.notMatch(inspected, admin, "the admin token is not in docker inspect");
  t.notMatch(inspected, read, "the read token is not in docker inspect");
  t.match(inspected, /\/run\/secrets\/rest-token/, "it is a mounted file");
});

t.test("scaling to 3 TaskManagers adds their slots to the overview", async (t) => {
  const up = await cluster("up", "--scale", "3", "--json");
  t.equal(up.code, 0, up.stderr);
  const overview = await api.overview();
  t.equal(overview.taskmanagers, 3);
  t.equal(overview["slots-total"], 6);
});

t.test("docker kill of a TaskManager mid-job: the job recovers, exactly once", async (t) => {
  const submitted = await flotilla(
    [
      "run",
      "examples/sequence-check.ts",
      "--cluster",
      rest,
      "--detached",
      "--json",
      "--parallelism",
      "4",
      "--arg",
      "keys=8",
      "--arg",
      "perKey=3000",
      "--arg",
      "rate=4000",
    ],
    env,
  );
  t.equal(submitted.code, 0, submitted.stderr);
  const { jobId } = eventOf(events(submitted.stdout), "submitted");
  // Kill a TaskManager that runs tasks of this job, after the first checkpoint.
  const victim: string = await until(
    async () => {
      const job = await api.job(jobId);
      if (job.state !== JobState.RUNNING || job.flotilla.checkpoints === 0) return undefined;
      const source = await api.vertex(jobId, job.vertices[0]!.id);
      return source.subtasks[0]?.["taskmanager-id"];
    },
    "the job running on a TaskManager, with a checkpoint",
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  t.ok(victim, "the job ran on a TaskManager and checkpointed");
  const running = await containers(
    "label=com.docker.compose.service=taskmanager",
    "status=running",
  );
  t.equal(running.length, 3);
  let container: string | undefined;
  for (const id of running)
    if ((await docker(["logs", id])).stdout.includes(`"${victim}"`)) container = id;
  t.ok(container, `the container of ${victim} is found by its log`);
  const killed = await docker(["kill", container!]);
  t.equal(killed.code, 0, killed.stderr);
  const job = await until(
    async () => {
      const now = await api.job(jobId);
      return isJobEnd(now.state) ? now : undefined;
    },
    "the job's end after the kill",
    { timeoutMs: 90_000, intervalMs: 500 },
  );
  t.equal(job.state, JobState.FINISHED, JSON.stringify(job));
  exactlyOnce(t, await api.results(jobId), 8, 3000);
});

t.test("down leaves no containers and no network behind", async (t) => {
  const down = await cluster("down");
  t.equal(down.code, 0, down.stderr);
  t.same(await containers(), []);
  const networks = await docker(["network", "ls", "-q", "--filter", `name=${project}`]);
  t.equal(networks.stdout.trim(), "");
});
