/**
 * compose/elastic.yml end to end, on a real Docker daemon with the project's own images: three
 * identical `auto` nodes elect one master (seen in each node's /healthz) and the others'
 * TaskManagers register; a job submitted over NATS (the only published port) finishes; after
 * `--scale node=4` rescales a running job onto the new node's slots (reactive mode) and
 * `--scale node=3` back, exactly once; after `docker kill` of the master another node takes over
 * and a new job runs, and a node added with `--scale` joins as a TaskManager; `down` leaves
 * nothing.
 */
import t, { type Test } from "tap";
import { JobState } from "../../../components/core/mod.ts";
import type {
  ClusterOverviewWithVersion,
  JobDetailsInfo,
} from "../../../components/protocol/mod.ts";
import { eventOf, events, flotilla, type JobList } from "../../support/cli.ts";
import { composeProject, inside, testCredentials } from "../../support/compose.ts";
import { docker, ensureDocker } from "../../support/docker.ts";
import { freePort } from "../../support/nats.ts";
import { until } from "../../support/poll.ts";
import { exactlyOnce, runsExactlyOnce } from "../../support/sequence.ts";

t.setTimeout(600_000);

const d = await ensureDocker();
const natsPort = await freePort();
const project = `flotilla-elastic-${natsPort}`;
const clusterId = `e${natsPort}`;
const cluster = [`--cluster`, `nats://127.0.0.1:${natsPort}`, "--cluster-id", clusterId];
const env: Record<string, string> = {
  ...d.composeEnv,
  FLOTILLA_NATS_PORT: String(natsPort),
  FLOTILLA_CLUSTER_ID: clusterId,
  // The stack's NATS users: the CLI connects as `cli` from here, as a user's does.
  FLOTILLA_CREDENTIALS_DIR: testCredentials(project, clusterId),
  FLOTILLA_HA_LEASE: "2s",
  FLOTILLA_HEARTBEAT_TIMEOUT: "3s",
  FLOTILLA_LOG_LEVEL: "warn",
};

const stack = composeProject({ file: "compose/elastic.yml", project, env });
const compose = stack.compose;
const ids = stack.ids;
const runningNodes = () => stack.running("node");
/** Polls every 500 ms for up to 90 s: containers start slowly on a busy machine. */
const waitFor = <T>(what: string, probe: () => Promise<T | undefined>) =>
  until(probe, what, { timeoutMs: 90_000, intervalMs: 500 });

/** An `auto` node's /healthz (components/cluster/auto_role.ts): what it acts as now. */
interface NodeHealth {
  acting: "starting" | "master" | "taskmanager" | "switching";
  holder: string;
  taskmanager?: string;
  dispatcherLeader?: boolean;
}

const healthOf = async (id: string) => (await inside(id, "/healthz")) as NodeHealth | undefined;
/** A node's /overview: the cluster's on the master; a TaskManager node answers an error. */
const overviewOf = async (id: string) =>
  (await inside(id, "/overview")) as
    | (Partial<ClusterOverviewWithVersion> & { code?: string })
    | undefined;

interface Roles {
  /** The one running node acting as master, its Dispatcher leading. */
  id: string;
  /** Every other running node: all TaskManagers. */
  tms: string[];
}

/** The running nodes' roles once exactly one is master and the rest TaskManagers; else undefined. */
async function settled(): Promise<Roles | undefined> {
  const nodes = await runningNodes();
  const seen = await Promise.all(nodes.map(healthOf));
  const masters = nodes.filter((_, n) => seen[n]?.acting === "master");
  const tms = nodes.filter((_, n) => seen[n]?.acting === "taskmanager");
  if (masters.length !== 1 || tms.length !== nodes.length - 1) return undefined;
  if (!seen[nodes.indexOf(masters[0]!)]?.dispatcherLeader) return undefined;
  return { id: masters[0]!, tms };
}

async function runJob(t: Test): Promise<void> {
  await runsExactlyOnce(t, cluster, env);
}

t.teardown(async () => {
  await compose("down", "-v", "--remove-orphans");
});

let first: Roles;

t.test("up --scale node=3: one node is master, the others' TaskManagers register", async (t) => {
  const up = await compose("up", "-d", "--scale", "node=3");
  t.equal(up.code, 0, `compose up${up.code ? `: ${up.output}` : ""}`);
  first = await waitFor("one master among 3 nodes", async () => {
    const roles = await settled();
    return roles && roles.tms.length === 2 ? roles : undefined;
  });
  const overview = await waitFor("two TaskManagers at the master", async () => {
    const o = await overviewOf(first.id);
    return o?.taskmanagers === 2 ? o : undefined;
  });
  t.equal(overview["slots-total"], 4, "two TaskManagers of 2 slots");
  const tmAnswer = await overviewOf(first.tms[0]!);
  t.equal(tmAnswer?.code, "UNAVAILABLE", "a TaskManager node does not serve the REST API");
});

t.test("a job submitted over NATS finishes", async (t) => {
  const list = await flotilla(["list", ...cluster, "--json"], env);
  t.equal(list.code, 0, list.stderr);
  await runJob(t);
});

t.test(
  "--scale node=4 rescales a running job onto the new slots, --scale node=3 back",
  async (t) => {
    const args = ["--arg", "keys=8", "--arg", "perKey=6000", "--arg", "rate=400"];
    const run = flotilla(["run", "examples/sequence-check.ts", ...cluster, "--json", ...args], env);
    /** The one JSON line `command --json` prints, read as `T`; undefined when it failed. */
    const json = async <T extends object>(...command: string[]) => {
      const r = await flotilla([...command, ...cluster, "--json"], env);
      return r.code === 0 ? events<T>(r.stdout)[0] : undefined;
    };
    const jobId = await waitFor("the job in the list", async () => {
      const listed = await json<JobList>("list");
      return listed?.jobs.find((j) => j.state === JobState.RUNNING)?.jid;
    });
    const runningAt = (p: number) =>
      waitFor(`the job running at parallelism ${p}`, async () => {
        const d = await json<JobDetailsInfo>("status", jobId);
        return d?.state === JobState.RUNNING &&
          d.vertices.every((v) => v.parallelism === p && v.tasks.RUNNING === p)
          ? d
          : undefined;
      });
    const at4 = await runningAt(4);
    t.equal(at4.flotilla.scheduler, "reactive", "the elastic layout schedules reactively");
    t.equal((await compose("up", "-d", "--scale", "node=4")).code, 0, "compose up --scale node=4");
    const at6 = await runningAt(6);
    t.ok(
      at6.flotilla.rescales > at4.flotilla.rescales,
      `rescaled (${at6.flotilla.rescales} rescales)`,
    );
    const human = await flotilla(["status", jobId, ...cluster], env);
    t.match(human.stdout, /x6 \[1\.\.\d+\] 6 RUNNING/, "status shows parallelism and bounds");
    t.equal((await compose("up", "-d", "--scale", "node=3")).code, 0, "compose up --scale node=3");
    await runningAt(4);

    const ran = await run;
    t.equal(ran.code, 0, ran.stderr);
    const ended = eventOf(events(ran.stdout), "ended");
    t.equal(ended.state, JobState.FINISHED);
    exactlyOnce(t, ended.results, 8, 6000);
  },
);

t.test(
  "docker kill of the master: another node takes over, a new job runs, new nodes join",
  async (t) => {
    const killed = await docker(["kill", first.id]);
    t.equal(killed.code, 0, killed.stderr);
    const next = await waitFor("another node to become master", async () => {
      const roles = await settled();
      return roles && roles.id !== first.id ? roles : undefined;
    });
    t.ok(first.tms.includes(next.id), "a former TaskManager node is the master now");
    await waitFor("the remaining TaskManagers to register", async () => {
      const o = await overviewOf(next.id);
      return o?.taskmanagers === next.tms.length && o.taskmanagers > 0 ? o : undefined;
    });
    await runJob(t);
    // --scale back to 3: the new node joins as a TaskManager of the new master.
    const up = await compose("up", "-d", "--scale", "node=3");
    t.equal(up.code, 0, `compose up${up.code ? `: ${up.output}` : ""}`);
    const overview = await waitFor("the new node's TaskManager at the master", async () => {
      const o = await overviewOf(next.id);
      return o?.taskmanagers === 2 ? o : undefined;
    });
    t.equal(overview["slots-total"], 4, "a new node adds its slots");
  },
);

t.test("down leaves no containers, network or volume behind", async (t) => {
  const down = await compose("down", "-v", "--remove-orphans");
  t.equal(down.code, 0, `compose down${down.code ? `: ${down.output}` : ""}`);
  t.same(await ids(), []);
  const networks = await docker(["network", "ls", "-q", "--filter", `name=${project}`]);
  t.equal(networks.stdout.trim(), "");
  const volumes = await docker(["volume", "ls", "-q", "--filter", `name=${project}`]);
  t.equal(volumes.stdout.trim(), "");
});
