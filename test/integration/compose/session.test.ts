/**
 * compose/session.yml end to end: the ResourceManager's docker driver starts TaskManager
 * containers for the profiles jobs ask for (limits checked with `docker inspect`), reuses them for
 * the next jobs, removes them after the idle timeout, and `down` leaves nothing behind.
 */
import t from "tap";
import { JobState } from "../../../components/core/mod.ts";
import { type ClusterUp, events, eventsOf, flotilla } from "../../support/cli.ts";
import { testCredentials } from "../../support/compose.ts";
import { docker, drivenTaskManagers, ensureDocker, inspect } from "../../support/docker.ts";
import { freePort } from "../../support/nats.ts";
import { until } from "../../support/poll.ts";
import { AUTH_HEADERS } from "../../support/rest_token.ts";

t.setTimeout(600_000);

const d = await ensureDocker();
const port = await freePort();
const project = `flotilla-session-${port}`;
const clusterId = `s${port}`;
const rest = `http://127.0.0.1:${port}`;
const env = {
  ...d.composeEnv,
  FLOTILLA_CREDENTIALS_DIR: testCredentials(project, clusterId),
  FLOTILLA_REST_PORT: String(port),
  FLOTILLA_CLUSTER_ID: clusterId,
  FLOTILLA_NETWORK: project,
  // Long enough that a container outlives the next job's start on a loaded machine (the reuse
  // tests), short enough that the idle test waits little.
  FLOTILLA_RESOURCEMANAGER_TASKMANAGER_TIMEOUT: "15s",
  FLOTILLA_LOG_LEVEL: "warn",
};
const session = (action: string, ...more: string[]) =>
  flotilla(["cluster", action, "--layout", "session", "--project", project, ...more], env);
/** TaskManager containers the driver started for this cluster. */
const taskManagers = () => drivenTaskManagers(clusterId, { all: true });

t.teardown(async () => {
  await session("down");
});

async function runProfiled(memoryMb: number, cpu: number): Promise<void> {
  const run = await flotilla(
    [
      "run",
      "test/support/jobs/profiled.ts",
      "--cluster",
      rest,
      "--json",
      "--arg",
      `memoryMb=${memoryMb}`,
      "--arg",
      `cpu=${cpu}`,
    ],
    env,
  );
  if (run.code !== 0) throw new Error(`profiled job failed: ${run.stdout}\n${run.stderr}`);
  const ended = eventsOf(events(run.stdout), "ended")[0];
  if (ended?.state !== JobState.FINISHED) throw new Error(`profiled job: ${JSON.stringify(ended)}`);
}

let started: string[] = [];

t.test(
  "up starts no TaskManager; two jobs get containers with their profiles' limits",
  async (t) => {
    const up = await session("up", "--json");
    t.equal(up.code, 0, up.stderr);
    t.match(events<ClusterUp>(up.stdout).at(-1), { overview: { taskmanagers: 0 } });
    t.same(await taskManagers(), []);
    await runProfiled(256, 0.5);
    await runProfiled(384, 1);
    started = await taskManagers();
    t.equal(started.length, 2, "one container per profile");
    const limits = await Promise.all(
      started.map(async (id) => {
        const info = await inspect(id);
        return { memory: info.HostConfig.Memory, nanoCpus: info.HostConfig.NanoCpus };
      }),
    );
    t.same(
      limits.sort((a, b) => a.memory - b.memory),
      [
        { memory: 256 * 1024 * 1024, nanoCpus: 0.5e9 },
        { memory: 384 * 1024 * 1024, nanoCpus: 1e9 },
      ],
    );
    for (const id of started) {
      const info = await inspect(id);
      t.ok(Object.keys(info.NetworkSettings.Networks).includes(project), "on the session network");
    }
  },
);

t.test("the next jobs reuse the containers", async (t) => {
  await runProfiled(256, 0.5);
  await runProfiled(384, 1);
  t.same(await taskManagers(), started, "no new container");
});

t.test("idle containers are removed after the timeout", async (t) => {
  await until(
    async () => (await taskManagers()).length === 0,
    "the idle TaskManager containers removed",
    { timeoutMs: 60_000, intervalMs: 1000 },
  );
  t.same(await taskManagers(), []);
  const overview = await (await fetch(`${rest}/overview`, { headers: AUTH_HEADERS })).json();
  t.equal(overview.taskmanagers, 0);
});

t.test("down leaves no containers and no network behind", async (t) => {
  await runProfiled(256, 0.5); // a TaskManager container is up again when the stack goes down
  t.equal((await taskManagers()).length, 1);
  const down = await session("down");
  t.equal(down.code, 0, down.stderr);
  t.same(await taskManagers(), [], "the ResourceManager removed its TaskManagers on stop");
  const left = await docker([
    "ps",
    "-aq",
    "--filter",
    `label=com.docker.compose.project=${project}`,
  ]);
  t.equal(left.stdout.trim(), "");
  const networks = await docker(["network", "ls", "-q", "--filter", `name=${project}`]);
  t.equal(networks.stdout.trim(), "");
});
