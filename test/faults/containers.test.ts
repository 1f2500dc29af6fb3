/**
 * Container faults on compose/elastic.yml (three `auto` nodes: one master, two TaskManagers;
 * reactive scheduling, so the job runs on every slot there is): a TaskManager node cut off the
 * network past the heartbeat timeout and connected again; the master paused (`docker pause`)
 * past its lease while another node takes over, then unpaused (it must step down and not act);
 * the master killed (`docker kill`). The same checks as the process suite (support/scenario.ts).
 * A fault counts from the moment its docker command returned (it takes effect within it).
 */
import t, { type Test } from "tap";
import { JobState } from "../../components/core/mod.ts";
import { docker } from "../support/docker.ts";
import { type ContainerCluster, containerCluster } from "./support/containers.ts";
import { formatRows, type Row, runScenario } from "./support/scenario.ts";

t.setTimeout(300_000);
const rows: Row[] = [];
t.teardown(() => process.stderr.write(`\n${formatRows(rows)}\n`));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every task RUNNING at parallelism `p`, with a checkpoint completed after `since`. */
async function runningAt(cluster: ContainerCluster, jobId: string, p: number, since: number) {
  return await cluster.waitFor(
    `job running at ${p} with a checkpoint`,
    async () => {
      const job = await cluster.job(jobId);
      return job.state === JobState.RUNNING &&
        (job.flotilla.lastCheckpoint?.timestamp ?? 0) > since &&
        job.vertices.every((v) => v.parallelism === p && v.tasks.RUNNING === p)
        ? Date.now()
        : undefined;
    },
    30_000,
  );
}

/** Reads of every node's /healthz 500 ms apart (a watch, not a wait): never two masters. */
async function oneMaster(t: Test, cluster: ContainerCluster, reads = 4): Promise<void> {
  for (let i = 0; i < reads; i++) {
    const seen = await cluster.healthz();
    const masters = Object.entries(seen).filter(([, acting]) => acting === "master");
    if (masters.length > 1) {
      t.fail(`two nodes act as master: ${JSON.stringify(seen)}`);
      return;
    }
    await sleep(500);
  }
  t.pass("at most one node's /healthz says it acts as master");
}

t.test("docker network disconnect of a TaskManager node, then connect", async (t) => {
  const cluster = await containerCluster(t);
  rows.push(
    await runScenario(t, cluster, {
      name: "network cut of a TaskManager node",
      job: { seconds: 14 },
      async inject({ timeline, settle, jobId }) {
        const victim = cluster.taskManagerNodes()[0]!;
        await cluster.disconnect(victim.name);
        const fault = timeline.fault(`docker network disconnect ${victim.name}`);
        // The job goes on with the other node's slots once the heartbeat times out.
        await settle(fault);
        // Cut off, not dead: only the heartbeat timeout tells the ResourceManager it is gone.
        await cluster.waitFor(`the ResourceManager letting ${victim.tm} go`, async () => {
          const listed = (await cluster.taskManagers()).map((tm) => tm.id);
          return listed.some((tmId) => tmId === victim.tm) ? undefined : true;
        });
        t.pass(`the ResourceManager let the cut-off ${victim.tm} go`);
        await cluster.connect(victim.name);
        const back = Date.now();
        const at4 = await runningAt(cluster, jobId, 4, back);
        t.comment(`back at parallelism 4 with a checkpoint ${at4 - back} ms after the connect`);
      },
    }),
  );
});

t.test("docker pause of the master past its lease, then unpause: it steps down", async (t) => {
  const cluster = await containerCluster(t);
  rows.push(
    await runScenario(t, cluster, {
      name: "docker pause master",
      job: { seconds: 14 },
      async inject({ timeline, settle }) {
        const paused = await cluster.master();
        await cluster.signal(paused.name, "SIGSTOP");
        const fault = timeline.fault(`docker pause ${paused.name}`);
        const successor = await cluster.waitFor(
          "another node acting as master",
          async () =>
            [...cluster.nodes.values()].find((n) => n !== paused && n.acting === "master"),
          30_000,
        );
        t.comment(`${successor.name} took over from ${paused.name}`);
        await settle(fault);
        await cluster.signal(paused.name, "SIGCONT");
        // From the wake-up on, while it steps down and after it runs a TaskManager again.
        await Promise.all([
          oneMaster(t, cluster, 6),
          cluster.waitFor(
            `${paused.name} acting as a TaskManager`,
            async () => (paused.acting === "taskmanager" ? true : undefined),
            20_000,
          ),
        ]);
      },
    }),
  );
});

t.test("docker kill of the master", async (t) => {
  const cluster = await containerCluster(t);
  rows.push(
    await runScenario(t, cluster, {
      name: "docker kill master",
      job: { seconds: 10 },
      async inject({ timeline, settle }) {
        const killed = await cluster.master();
        await cluster.signal(killed.name, "SIGKILL");
        const fault = timeline.fault(`docker kill ${killed.name}`);
        await settle(fault);
        await oneMaster(t, cluster, 2);
      },
    }),
  );
});

t.test("every scenario's compose down left no container, network or volume", async (t) => {
  const [containers, networks, volumes] = await Promise.all([
    docker(["ps", "-a", "--format", '{{.Label "com.docker.compose.project"}}']),
    docker(["network", "ls", "-q", "--filter", "name=flotilla-faults-"]),
    docker(["volume", "ls", "-q", "--filter", "name=flotilla-faults-"]),
  ]);
  const projects = containers.stdout.split("\n").filter((p) => p.startsWith("flotilla-faults-"));
  t.same(projects, [], "no container");
  t.equal(networks.stdout.trim(), "", "no network");
  t.equal(volumes.stdout.trim(), "", "no volume");
});
