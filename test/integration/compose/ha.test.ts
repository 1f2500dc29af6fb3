/**
 * compose/standalone.yml + compose/ha.yml end to end, on a real Docker daemon with the project's
 * own images, driven as a user drives it (`flotilla cluster up --layout ha`, the CLI over NATS):
 * two masters, one leading; `docker kill` of the leading master mid-job: the standby takes over
 * and the job finishes exactly once; `docker restart` of NATS mid-job (JetStream on file
 * storage): leases, the job and its checkpoints survive, clients reconnect, the job finishes
 * exactly once; `down` leaves nothing.
 */
import t, { type Test } from "tap";
import { JobState } from "../../../components/core/mod.ts";
import type { JobDetailsInfo } from "../../../components/protocol/mod.ts";
import { type ClusterUp, eventOf, events, flotilla, type JobList } from "../../support/cli.ts";
import { composeProject, testCredentials } from "../../support/compose.ts";
import { docker, ensureDocker } from "../../support/docker.ts";
import { freePort } from "../../support/nats.ts";
import { until } from "../../support/poll.ts";
import { AUTH_HEADERS } from "../../support/rest_token.ts";
import { exactlyOnce } from "../../support/sequence.ts";

t.setTimeout(600_000);

const d = await ensureDocker();
const [restPort, standbyPort, natsPort] = [await freePort(), await freePort(), await freePort()];
const project = `flotilla-ha-${natsPort}`;
const cluster = ["--cluster", `nats://127.0.0.1:${natsPort}`];
// NATS 2.9 (the local stand-in) refuses `sync_interval`: compose/ha.yml names its 2.9 config.
const natsVersion = (await docker(["run", "--rm", d.composeEnv.FLOTILLA_NATS_IMAGE!, "--version"]))
  .stdout;
const [, minor] = (natsVersion.match(/v2\.(\d+)/) ?? []).map(Number);
const env: Record<string, string> = {
  ...d.composeEnv,
  FLOTILLA_CREDENTIALS_DIR: testCredentials(project),
  FLOTILLA_REST_PORT: String(restPort),
  FLOTILLA_STANDBY_REST_PORT: String(standbyPort),
  FLOTILLA_NATS_PORT: String(natsPort),
  FLOTILLA_NATS_CONFIG: minor !== undefined && minor < 10 ? "./nats-ha-2.9.conf" : "./nats-ha.conf",
  FLOTILLA_HA_LEASE: "2s",
  FLOTILLA_HEARTBEAT_TIMEOUT: "3s",
};
const stack = composeProject({
  file: "compose/standalone.yml",
  project,
  env,
});
const ha = (action: string, ...more: string[]) =>
  flotilla(["cluster", action, "--layout", "ha", "--project", project, ...more], env);
/** The one JSON line `command --json` prints, read as `T`; undefined when it failed. */
const json = async <T extends object>(...command: string[]) => {
  const r = await flotilla([...command, ...cluster, "--json"], env);
  return r.code === 0 ? events<T>(r.stdout)[0] : undefined;
};

t.teardown(async () => {
  await ha("down");
});

/** Each master's REST status on /jobs (200 leads, 503 stands by, 0 down), by service. */
async function restStatus(): Promise<{ master: number; "master-standby": number }> {
  const [master, standby] = await Promise.all(
    [restPort, standbyPort].map((port) =>
      fetch(`http://127.0.0.1:${port}/jobs`, { headers: AUTH_HEADERS }).then(
        (r) => r.status,
        () => 0,
      ),
    ),
  );
  return { master: master!, "master-standby": standby! };
}

/** Containers start slowly on a busy machine. */
const COMPOSE_WAIT = { timeoutMs: 60_000, intervalMs: 200 };

/** The leading master's service (the other one is its standby) once exactly one leads. */
async function leading(): Promise<"master" | "master-standby"> {
  return await until(
    async () => {
      const status = await restStatus();
      if (status.master === 200 && status["master-standby"] === 503) return "master" as const;
      if (status["master-standby"] === 200 && status.master === 503)
        return "master-standby" as const;
      return undefined;
    },
    "exactly one leading master",
    COMPOSE_WAIT,
  );
}

/** Runs the sequence check while `fault` strikes after two checkpoints; exactly once at the end. */
async function survives(t: Test, fault: () => Promise<void>): Promise<void> {
  const args = ["--arg", "keys=8", "--arg", "perKey=6000", "--arg", "rate=1000"];
  const run = flotilla(
    ["run", "examples/sequence-check.ts", ...cluster, "--parallelism", "4", "--json", ...args],
    env,
  );
  const jobId = await until(
    async () => {
      const listed = await json<JobList>("list");
      return listed?.jobs.find((j) => j.state === JobState.RUNNING)?.jid;
    },
    "the job running",
    COMPOSE_WAIT,
  );
  await until(
    async () => ((await json<JobDetailsInfo>("status", jobId))?.flotilla.checkpoints ?? 0) >= 2,
    "two checkpoints",
    COMPOSE_WAIT,
  );
  await fault();
  const ran = await run;
  t.equal(ran.code, 0, `the attached run ended well: ${ran.stderr.slice(-400)}`);
  const ended = eventOf(events(ran.stdout), "ended");
  t.equal(ended.state, JobState.FINISHED);
  exactlyOnce(t, ended.results, 8, 6000);
}

t.test("up: two masters, one leads; the cluster is reached over NATS", async (t) => {
  const up = await ha("up", "--scale", "2", "--json");
  t.equal(up.code, 0, up.stderr);
  t.match(events<ClusterUp>(up.stdout).at(-1), {
    cluster: `nats://127.0.0.1:${natsPort}`,
    overview: { taskmanagers: 2, "slots-total": 4 },
  });
  t.ok(await leading(), "one master leads, the other answers 503");
});

t.test("docker kill of the leading master mid-job: the standby finishes it", async (t) => {
  const before = await leading();
  const other = before === "master" ? "master-standby" : "master";
  const [container] = await stack.running(before);
  await survives(t, async () => {
    const killed = await docker(["kill", container!]);
    t.equal(killed.code, 0, killed.stderr);
  });
  t.same(await restStatus(), { [before]: 0, [other]: 200 }, `${other} leads now`);
  // Started again, the old leader is the standby.
  t.equal((await docker(["start", container!])).code, 0);
  t.equal(await leading(), other, `${before} came back as the standby`);
});

t.test("docker restart of NATS mid-job: file storage keeps the HA state", async (t) => {
  await survives(t, async () => {
    const [nats] = await stack.running("nats");
    t.ok(nats, "the NATS container");
    const restarted = await docker(["restart", "-t", "1", nats!]);
    t.equal(restarted.code, 0, restarted.stderr);
  });
  // The earlier job's result (in the JetStream result store) is still there too.
  const listed = await json<JobList>("list");
  t.equal(
    listed?.jobs.filter((j) => j.state === JobState.FINISHED).length,
    2,
    "both jobs' results survived the restart",
  );
});

t.test("down leaves no containers, network or volume behind", async (t) => {
  const down = await ha("down");
  t.equal(down.code, 0, down.stderr);
  t.same(await stack.ids(), []);
  const networks = await docker(["network", "ls", "-q", "--filter", `name=${project}`]);
  t.equal(networks.stdout.trim(), "");
  const volumes = await docker(["volume", "ls", "-q", "--filter", `name=${project}`]);
  t.equal(volumes.stdout.trim(), "");
});
