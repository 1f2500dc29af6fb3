/**
 * `flotilla start auto`: identical processes elect one master (Dispatcher + ResourceManager), the
 * others run TaskManagers. kill -9 of the master mid-job: another instance stops its TaskManager,
 * becomes master and recovers the job, exactly once. A master paused past its lease (SIGSTOP) is
 * replaced, and on SIGCONT steps down and comes back as a TaskManager; at no moment do two
 * instances act as master, and the job running across it still counts exactly once.
 */
import type { ChildProcess } from "node:child_process";
import t, { type Test } from "tap";
import { JobState } from "../../../components/core/mod.ts";
import { type ClusterProcesses, clusterFor } from "../../support/cluster.ts";
import { freePort } from "../../support/nats.ts";
import { exactlyOnce } from "../../support/sequence.ts";
import { natsFor } from "../../support/tap.ts";

t.setTimeout(240_000);

interface Instance {
  child: ChildProcess;
  url: string;
}

interface Health {
  acting: string;
  holder: string;
  taskmanager?: string;
  dispatcherLeader?: boolean;
}

const nats = await natsFor(t);
const instances: Instance[] = [];
const cluster = await clusterFor(t, nats, {
  roles: [],
  env: { FLOTILLA_TASKMANAGER_SLOTS: "4" },
  ready: async () => {},
});

async function startInstance(c: ClusterProcesses): Promise<Instance> {
  const port = await freePort();
  const instance = {
    child: c.spawn("auto", { FLOTILLA_REST_PORT: String(port) }),
    url: `http://127.0.0.1:${port}`,
  };
  instances.push(instance);
  return instance;
}

const killed = new Set<Instance>();
const alive = () => instances.filter((i) => !killed.has(i));

async function health(i: Instance): Promise<Health | undefined> {
  try {
    const res = await fetch(`${i.url}/healthz`, { signal: AbortSignal.timeout(500) });
    return res.ok ? ((await res.json()) as Health) : undefined;
  } catch {
    return undefined;
  }
}

/** The one instance acting as master with its Dispatcher leading, once every other is a TM. */
async function settledMaster(among: Instance[]): Promise<{ master: Instance; tms: Health[] }> {
  return await cluster.waitFor(
    "exactly one master, the rest TaskManagers",
    async () => {
      const seen = await Promise.all(among.map(health));
      if (seen.some((h) => h === undefined)) return undefined;
      const masters = among.filter((_, n) => seen[n]!.acting === "master");
      const tms = seen.filter((h) => h!.acting === "taskmanager") as Health[];
      if (masters.length !== 1 || tms.length !== among.length - 1) return undefined;
      if (!seen.find((h) => h!.acting === "master")!.dispatcherLeader) return undefined;
      return { master: masters[0]!, tms };
    },
    30_000,
  );
}

async function checkResults(t: Test, jobId: string, perKey: number): Promise<void> {
  const done = await cluster.result(jobId, 90_000);
  t.equal(done.state, JobState.FINISHED, JSON.stringify(done.flotilla.error));
  exactlyOnce(t, await cluster.results(jobId), 8, perKey);
}

async function checkpointed(jobId: string): Promise<void> {
  await cluster.waitFor(
    "the job to run and checkpoint",
    async () => {
      const job = await cluster.job(jobId);
      return job.state === JobState.RUNNING && job.flotilla.checkpoints >= 2 ? true : undefined;
    },
    30_000,
  );
}

t.test("three auto processes elect exactly one master; the others are TaskManagers", async (t) => {
  for (let n = 0; n < 3; n++) await startInstance(cluster);
  const { master, tms } = await settledMaster(instances);
  cluster.rest = master.url;
  const seen = await cluster.waitFor("both TaskManagers registered", async () => {
    const o = await cluster.overview();
    return o.taskmanagers === 2 ? o : undefined;
  });
  t.equal(seen["slots-total"], 8, "two TaskManagers of 4 slots");
  t.same(
    (await cluster.taskManagers()).map((tm) => tm.id).sort(),
    tms.map((h) => h.taskmanager).sort(),
    "the registered TaskManagers are the non-masters'",
  );
  for (const other of instances.filter((i) => i !== master)) {
    const res = await fetch(`${other.url}/overview`);
    t.equal(res.status, 503, "a TaskManager instance does not serve the REST API");
    t.equal(((await res.json()) as { code: string }).code, "UNAVAILABLE");
  }
});

t.test(
  "kill -9 of the master mid-job: another instance takes over and the job recovers",
  async (t) => {
    const before = await settledMaster(alive());
    const jobId = await cluster.submit("sequence-check.ts", {
      args: { keys: "8", perKey: "8000", rate: "8000" },
      parallelism: 2,
    });
    await checkpointed(jobId);
    before.master.child.kill("SIGKILL");
    killed.add(before.master);
    const after = await settledMaster(alive());
    t.not(after.master, before.master, "a new master");
    cluster.rest = after.master.url;
    const promoted = before.tms.find((h) => h.holder !== after.tms[0]!.holder)!;
    await cluster.waitFor("the new master's own TaskManager to be gone", async () => {
      const o = await cluster.overview();
      return o.taskmanagers === 1 ? o : undefined;
    });
    const left = (await cluster.taskManagers()).map((tm) => tm.id as string);
    t.notOk(left.includes(promoted.taskmanager!), "the promoted instance's TaskManager stopped");
    t.ok(left.includes(after.tms[0]!.taskmanager!), "the other TaskManager re-registered");
    await checkResults(t, jobId, 8000);
  },
);

t.test("a master paused past its lease steps down and comes back as a TaskManager", async (t) => {
  await startInstance(cluster); // a replacement for the killed one: it joins as a TaskManager
  const before = await settledMaster(alive());
  cluster.rest = before.master.url;
  await cluster.waitFor("two TaskManagers", async () =>
    (await cluster.overview()).taskmanagers === 2 ? true : undefined,
  );
  // Sample every instance's /healthz from here on: never two masters at once.
  let mostMasters = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const seen = await Promise.all(alive().map(health));
      mostMasters = Math.max(mostMasters, seen.filter((h) => h?.acting === "master").length);
      await new Promise((r) => setTimeout(r, 25)); // the sampling interval of the watch
    }
  })();
  const jobId = await cluster.submit("sequence-check.ts", {
    args: { keys: "8", perKey: "8000", rate: "8000" },
    parallelism: 2,
  });
  await checkpointed(jobId);

  before.master.child.kill("SIGSTOP");
  const others = alive().filter((i) => i !== before.master);
  const after = await settledMaster(others);
  before.master.child.kill("SIGCONT");
  cluster.rest = after.master.url;

  const back = await cluster.waitFor(
    "the paused master to come back as a TaskManager",
    async () => {
      const h = await health(before.master);
      return h?.acting === "taskmanager" ? h : undefined;
    },
  );
  await cluster.waitFor("its TaskManager to register with the new master", async () =>
    (await cluster.taskManagers()).some((tm) => tm.id === back.taskmanager) ? true : undefined,
  );
  const old = await fetch(`${before.master.url}/overview`);
  t.equal(old.status, 503, "the deposed master no longer serves the REST API");
  await checkResults(t, jobId, 8000);
  sampling = false;
  await sampler;
  t.equal(mostMasters, 1, "never two instances acting as master at once");
});
