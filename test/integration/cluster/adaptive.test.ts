/**
 * The adaptive scheduler and reactive mode on a cluster of processes: a job runs with the slots
 * there are, rescales up when a TaskManager joins and down when one is killed or its bounds are
 * lowered, and the exactly-once sequence check stays exact across every rescale.
 */
import t, { type Test } from "tap";
import { isJobEnd, JobState } from "../../../components/core/mod.ts";
import type { JobDetailsVertexInfo } from "../../../components/protocol/mod.ts";
import { type ClusterProcesses, clusterFor } from "../../support/cluster.ts";
import { exactlyOnce } from "../../support/sequence.ts";
import { natsFor } from "../../support/tap.ts";

const ADAPTIVE_JOB = "test/support/jobs/adaptive_sequence.ts";
// Three clusters one after another, each running a job to its end (about 70 s in all).
t.setTimeout(180_000);

/**
 * Waits until every vertex runs all its tasks at `p` (one number for all, or per flotilla vertex
 * id); returns the job's details.
 */
function runningAt(
  cluster: ClusterProcesses,
  jobId: string,
  p: number | Record<string, number>,
  timeoutMs = 30_000,
) {
  const want = (v: JobDetailsVertexInfo) => (typeof p === "number" ? p : p[v.flotilla.vertexId]);
  return cluster.waitFor(
    `job ${jobId} running at parallelism ${JSON.stringify(p)}`,
    async () => {
      const job = await cluster.job(jobId);
      if (isJobEnd(job.state))
        throw new Error(
          `job ended ${job.state} before running at ${JSON.stringify(p)}: ${JSON.stringify(job)}`,
        );
      return job.state === JobState.RUNNING &&
        job.vertices.every(
          (v) =>
            v.parallelism === want(v) &&
            v.tasks.RUNNING === want(v) &&
            // Flink's counts name every state: none but RUNNING has a task.
            Object.values(v.tasks).reduce((a, b) => a + b, 0) === v.tasks.RUNNING,
        )
        ? job
        : undefined;
    },
    timeoutMs,
  );
}

/** The job finished with no alert and exactly `perKey` records for each of `keys` keys. */
async function checkExactlyOnce(
  t: Test,
  cluster: ClusterProcesses,
  jobId: string,
  keys: number,
  perKey: number,
) {
  const details = await cluster.result(jobId, 90_000);
  t.equal(
    details.state,
    JobState.FINISHED,
    `finished: ${JSON.stringify(details.flotilla.error ?? "")}`,
  );
  exactlyOnce(t, await cluster.results(jobId), keys, perKey);
  return details;
}

t.test(
  "adaptive: starts at 2 of 4 on one TaskManager, rescales to 4 when a second joins and back to 2 when one is killed; exactly once",
  async (t) => {
    const nats = await natsFor(t);
    const cluster = await clusterFor(t, nats, { roles: ["master"] });
    const first = cluster.spawn("taskmanager", { FLOTILLA_TASKMANAGER_ID: "tm-1" });
    await cluster.waitFor("one TaskManager", async () =>
      (await cluster.overview()).taskmanagers === 1 ? true : undefined,
    );
    const [keys, perKey] = [8, 4000];
    const jobId = await cluster.submit(ADAPTIVE_JOB, {
      args: { keys: String(keys), perKey: String(perKey), rate: "1000" },
    });

    const at2 = await runningAt(cluster, jobId, 2);
    t.equal(at2.flotilla.scheduler, "adaptive");
    t.same(at2.flotilla.parallelismBounds, { lowerBound: 1, upperBound: 4 });
    t.equal(at2.flotilla.rescales, 0, "started at 2 (the slots there are), not a rescale");

    cluster.spawn("taskmanager", { FLOTILLA_TASKMANAGER_ID: "tm-2" });
    const at4 = await runningAt(cluster, jobId, 4);
    t.equal(at4.flotilla.rescales, 1, "one rescale, 2 -> 4");
    const source = await cluster.vertex(jobId, at4.vertices[0]!.id);
    t.same(
      new Set(source.subtasks.map((s) => s["taskmanager-id"])),
      new Set(["tm-1", "tm-2"]),
      "on both TaskManagers",
    );
    const checkpointAt4 = at4.flotilla.lastCheckpoint?.id ?? 0;
    await cluster.waitFor("a checkpoint at 4", async () =>
      ((await cluster.job(jobId)).flotilla.lastCheckpoint?.id ?? 0) > checkpointAt4
        ? true
        : undefined,
    );

    first.kill("SIGKILL");
    const back = await runningAt(cluster, jobId, 2);
    t.equal(back.flotilla.rescales, 2, "rescaled down to the slots left");
    t.ok(back.flotilla.restarts >= 1, "the loss counts as a restart");

    const done = await checkExactlyOnce(t, cluster, jobId, keys, perKey);
    t.equal(done.flotilla.rescales, 2, "the result keeps the rescale count");
  },
);

t.test("reactive mode: a job uses every slot of three TaskManagers", async (t) => {
  const nats = await natsFor(t);
  const cluster = await clusterFor(t, nats, {
    roles: ["master", "taskmanager", "taskmanager", "taskmanager"],
    env: { FLOTILLA_JOBMANAGER_SCHEDULER_MODE: "reactive" },
  });
  const [keys, perKey] = [12, 3000];
  // The example asks for parallelism 2 and the default scheduler: reactive mode overrides both.
  const jobId = await cluster.submit("sequence-check.ts", {
    args: { keys: String(keys), perKey: String(perKey), rate: "1000" },
  });
  const at6 = await runningAt(cluster, jobId, 6);
  t.equal(at6.flotilla.scheduler, "reactive");
  t.same(
    at6.flotilla.parallelismBounds,
    { lowerBound: 1, upperBound: 128 },
    "up to maxParallelism",
  );
  t.equal((await cluster.overview())["slots-available"], 0, "no slot left idle");
  await checkExactlyOnce(t, cluster, jobId, keys, perKey);
});

t.test(
  "PUT /jobs/:id/resource-requirements: lowering the upper bounds rescales down, raising one vertex's runs it wider than the other; bad bodies are 400s",
  async (t) => {
    const nats = await natsFor(t);
    const cluster = await clusterFor(t, nats);
    const [keys, perKey] = [8, 3000];
    const jobId = await cluster.submit(ADAPTIVE_JOB, {
      args: { keys: String(keys), perKey: String(perKey), rate: "500" },
    });
    await runningAt(cluster, jobId, 4);
    const path = `/jobs/${jobId}/resource-requirements`;
    const bounds = (lowerBound: number, upperBound: number) => ({
      parallelism: { lowerBound, upperBound },
    });

    const got = await cluster.call("GET", path);
    t.equal(got.status, 200);
    t.same(got.body, { sequence: bounds(1, 4), "check-sequences": bounds(1, 4) });

    const refused = async (body: unknown, pattern: RegExp, status = 400) => {
      const res = await cluster.call("PUT", path, body);
      t.equal(res.status, status, `${JSON.stringify(body)} -> ${status}`);
      t.match(res.body, { errors: [pattern] });
    };
    await refused({}, /at least one vertex/);
    await refused({ sequence: bounds(3, 2) }, /lowerBound must not be above upperBound/);
    await refused({ sequence: bounds(0, 2) }, /sequence\.parallelism\.lowerBound/);
    await refused({ sequence: { parallelism: { lowerBound: 1 } } }, /upperBound/);
    await refused({ nope: bounds(1, 2) }, /no vertex 'nope'.*sequence, check-sequences/);
    await refused(
      { nope: bounds(1, 2), sequence: bounds(1, 2), gone: bounds(1, 2) },
      /no vertex 'nope', 'gone'; its vertices: sequence, check-sequences/,
    );
    await refused({ sequence: bounds(1, 500) }, /'sequence': upperBound 500 .*maxParallelism 128/);
    const unknown = await cluster.call("PUT", `/jobs/${"0".repeat(32)}/resource-requirements`, {
      sequence: bounds(1, 2),
    });
    t.equal(unknown.status, 404, "unknown job");
    t.match(unknown.body, { code: "JOB_NOT_FOUND" });
    t.equal(
      (await runningAt(cluster, jobId, 4)).flotilla.rescales,
      0,
      "refused calls changed nothing",
    );

    const lowered = await cluster.call("PUT", path, {
      sequence: bounds(1, 2),
      "check-sequences": bounds(1, 2),
    });
    t.equal(lowered.status, 200);
    t.same(lowered.body, { sequence: bounds(1, 2), "check-sequences": bounds(1, 2) });
    const at2 = await runningAt(cluster, jobId, 2);
    t.equal(at2.flotilla.rescales, 1, "rescaled 4 -> 2");
    const held = await cluster.waitFor("the surplus slots given back", async () => {
      const n = (await cluster.taskManagerDetails())
        .flatMap((tm) => tm.allocatedSlots)
        .filter((s) => s.jobId === jobId).length;
      return n === 2 ? n : undefined;
    });
    t.equal(held, 2, "the job holds 2 slots");

    // Per-vertex bounds: the source may use 4 slots again, the keyed check stays at 2.
    const raised = await cluster.call("PUT", path, { sequence: bounds(1, 4) });
    t.equal(raised.status, 200);
    t.same(raised.body, { sequence: bounds(1, 4), "check-sequences": bounds(1, 2) });
    const split = await runningAt(cluster, jobId, { sequence: 4, "check-sequences": 2 });
    t.equal(
      split.flotilla.rescales,
      2,
      "the source back to 4 with the freed slots, the check at 2",
    );

    await checkExactlyOnce(t, cluster, jobId, keys, perKey);
  },
);
