/**
 * `npm run bench -- rescale`: how fast the adaptive scheduler puts a new TaskManager to work, on
 * a cluster of processes over NATS. An adaptive sequence-check job asks for parallelism 4 and
 * runs at 2 on one TaskManager; each repeat starts a second TaskManager process and times
 * 1. spawn -> every task RUNNING at 4 (goal < 5 s) and registered at the RM -> RUNNING at 4
 *    (the rescale alone: checkpoint, cancel, redeploy, restore),
 * 2. then kill -9 of that TaskManager -> RUNNING at 2 again (loss detection, the restart, the
 *    stabilization timeout),
 * against baselines from the same run: the same job's submit -> RUNNING with its slots free, and
 * the plain restart of the default scheduler after kill -9 of a TaskManager.
 *
 * Heartbeats as in the tests (250 ms interval, 1.5 s timeout); stabilization 2 s (the default).
 *
 * Then the same in containers when Docker is there (rescale_containers.ts): compose/elastic.yml
 * at 2 nodes, `--scale node=3`, and the new container's start -> RUNNING at 4 (goal < 5 s),
 * compared with the process figure of this run.
 *
 * Flags: --repeats N (default 3); --no-containers skips the container measurement.
 */
import { performance } from "node:perf_hooks";
import { isJobEnd, JobState } from "../../components/core/mod.ts";
import { type ClusterProcesses, clusterFor } from "../support/cluster.ts";
import { startNats } from "../support/nats.ts";
import { numberFlag } from "./measure.ts";
import { type BenchResult, percentile } from "./report.ts";
import { dockerMissing, measureContainerRescale } from "./rescale_containers.ts";

const progress = (line: string) => process.stderr.write(`[bench rescale] ${line}\n`);
const ADAPTIVE_JOB = "test/support/jobs/adaptive_sequence.ts";
/** The goal for a new node: joined -> the job running at the higher parallelism. */
const GOAL_MS = 5000;
/** Practically unbounded: the job runs until canceled. */
const ARGS = { keys: "8", perKey: "100000000", rate: "2000" };

/** Every task of the current attempt RUNNING at parallelism `p` (any p when undefined). */
function runningAt(cluster: ClusterProcesses, jobId: string, p?: number, after = -1) {
  return cluster.waitFor(
    `job ${jobId} running at ${p ?? "its parallelism"}`,
    async () => {
      const job = await cluster.job(jobId);
      if (isJobEnd(job.state))
        throw new Error(`job ended ${job.state}: ${JSON.stringify(job.flotilla.error)}`);
      return job.state === JobState.RUNNING &&
        (job.flotilla.attempt ?? -1) > after &&
        job.vertices.every(
          (v) =>
            (p === undefined || v.parallelism === p) &&
            v.tasks.RUNNING === v.parallelism &&
            Object.keys(v.tasks).length === 1,
        )
        ? job
        : undefined;
    },
    60_000,
  );
}

function taskManagers(cluster: ClusterProcesses, n: number) {
  return cluster.waitFor(`${n} TaskManagers`, async () =>
    (await cluster.overview()).taskmanagers === n ? true : undefined,
  );
}

async function cancel(cluster: ClusterProcesses, jobId: string): Promise<void> {
  await cluster.cancel(jobId);
  await cluster.result(jobId);
}

export async function run(args: string[]): Promise<BenchResult[]> {
  const repeats = numberFlag(args, "--repeats", 3);
  // One after the other: the process cluster is gone before the containers start.
  const processes = await processRescale(repeats);
  return [...processes, ...(await containerResults(args, repeats))];
}

async function processRescale(repeats: number): Promise<BenchResult[]> {
  const teardowns: (() => unknown)[] = [];
  const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };
  const ms = (from: number) => performance.now() - from;
  try {
    const nats = await startNats();
    teardowns.push(() => nats.cleanup());
    const cluster = await clusterFor(t, nats, { roles: ["master"] });
    const live = new Map([
      ["tm-base", cluster.spawn("taskmanager", { FLOTILLA_TASKMANAGER_ID: "tm-base" })],
    ]);
    await taskManagers(cluster, 1);

    progress("adaptive job at 2 of 4 on one TaskManager");
    const jobId = await cluster.submit(ADAPTIVE_JOB, { args: ARGS });
    await runningAt(cluster, jobId, 2);
    const spawnToRunning: number[] = [];
    const registeredToRunning: number[] = [];
    const killToRunning: number[] = [];
    for (let i = 0; i < repeats; i++) {
      progress(`repeat ${i + 1}/${repeats}: a TaskManager joins`);
      const before = (await cluster.job(jobId)).flotilla.attempt ?? -1;
      const spawned = performance.now();
      const extra = cluster.spawn("taskmanager", { FLOTILLA_TASKMANAGER_ID: `tm-extra-${i}` });
      await taskManagers(cluster, 2);
      const registered = performance.now();
      const at4 = await runningAt(cluster, jobId, 4, before);
      spawnToRunning.push(ms(spawned));
      registeredToRunning.push(ms(registered));

      progress(`repeat ${i + 1}/${repeats}: kill -9 it`);
      const killed = performance.now();
      extra.kill("SIGKILL");
      await runningAt(cluster, jobId, 2, at4.flotilla.attempt ?? -1);
      killToRunning.push(ms(killed));
    }
    await cancel(cluster, jobId);

    progress("baseline: submit -> RUNNING with the slots free");
    const submitToRunning: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const submitted = performance.now();
      const id = await cluster.submit(ADAPTIVE_JOB, { args: ARGS, parallelism: 2 });
      await runningAt(cluster, id, 2);
      submitToRunning.push(ms(submitted));
      await cancel(cluster, id);
    }

    progress("baseline: default scheduler, kill -9 TaskManager -> RUNNING again");
    const plainRestart: number[] = [];
    for (let i = 0; i < repeats; i++) {
      live.set(
        `tm-spare-${i}`,
        cluster.spawn("taskmanager", { FLOTILLA_TASKMANAGER_ID: `tm-spare-${i}` }),
      );
      await taskManagers(cluster, 2);
      const id = await cluster.submit("sequence-check.ts", { args: ARGS });
      const first = await runningAt(cluster, id);
      // A TaskManager the job runs on; the other one has room for the whole job.
      const source = await cluster.vertex(id, first.vertices[0]!.id);
      const victim = source.subtasks[0]!["taskmanager-id"];
      const killed = performance.now();
      live.get(victim)!.kill("SIGKILL");
      live.delete(victim);
      await runningAt(cluster, id, undefined, first.flotilla.attempt ?? -1);
      plainRestart.push(ms(killed));
      await cancel(cluster, id);
      await taskManagers(cluster, 1);
    }

    const results: BenchResult[] = [
      {
        name: "submit -> RUNNING at 2 (slots free) p50",
        value: percentile(submitToRunning, 0.5),
        unit: "ms",
      },
      {
        name: "default scheduler: kill -9 TM -> RUNNING again p50",
        value: percentile(plainRestart, 0.5),
        unit: "ms",
      },
      {
        name: "TM spawn -> RUNNING at 4 p50",
        value: percentile(spawnToRunning, 0.5),
        unit: "ms",
        baseline: "default scheduler: kill -9 TM -> RUNNING again p50",
      },
      {
        name: "TM spawn -> RUNNING at 4 max",
        value: Math.max(...spawnToRunning),
        unit: "ms",
        baseline: "default scheduler: kill -9 TM -> RUNNING again p50",
      },
      {
        name: "TM registered -> RUNNING at 4 p50",
        value: percentile(registeredToRunning, 0.5),
        unit: "ms",
        baseline: "submit -> RUNNING at 2 (slots free) p50",
      },
      {
        name: "TM registered -> RUNNING at 4 max",
        value: Math.max(...registeredToRunning),
        unit: "ms",
        baseline: "submit -> RUNNING at 2 (slots free) p50",
      },
      {
        name: "adaptive: kill -9 TM -> RUNNING at 2 p50",
        value: percentile(killToRunning, 0.5),
        unit: "ms",
        baseline: "default scheduler: kill -9 TM -> RUNNING again p50",
      },
    ];
    return results;
  } finally {
    for (const fn of teardowns.reverse()) await fn();
  }
}

/** The container measurement, or none with the reason on stderr (never a silent skip). */
async function containerResults(args: string[], repeats: number): Promise<BenchResult[]> {
  if (args.includes("--no-containers")) {
    progress("container measurement SKIPPED: --no-containers");
    return [];
  }
  const missing = await dockerMissing();
  if (missing) {
    progress(`container measurement SKIPPED: Docker is not available here: ${missing}`);
    return [];
  }
  const c = await measureContainerRescale(repeats, progress);
  const p50 = percentile(c.startToRunning, 0.5);
  const max = Math.max(...c.startToRunning);
  progress(
    `goal: a new container's start -> RUNNING at 4 under ${GOAL_MS / 1000} s: p50 ${(p50 / 1000).toFixed(2)} s, max ${(max / 1000).toFixed(2)} s: ${max < GOAL_MS ? "met" : p50 < GOAL_MS ? "met at p50, missed at max" : "MISSED"}`,
  );
  const processFigure = "TM spawn -> RUNNING at 4 p50";
  return [
    {
      name: `container start -> RUNNING at 4 p50 (goal < ${GOAL_MS / 1000} s)`,
      value: p50,
      unit: "ms",
      baseline: processFigure,
    },
    {
      name: `container start -> RUNNING at 4 max (goal < ${GOAL_MS / 1000} s)`,
      value: max,
      unit: "ms",
      baseline: processFigure,
    },
    {
      name: "container start -> TaskManager registered p50",
      value: percentile(c.startToRegistered, 0.5),
      unit: "ms",
      baseline: processFigure,
    },
    {
      name: "compose up --scale node=3 -> RUNNING at 4 p50",
      value: percentile(c.composeToRunning, 0.5),
      unit: "ms",
      baseline: processFigure,
    },
    {
      name: "compose --scale node=2 (graceful stop) -> RUNNING at 2 p50",
      value: percentile(c.scaleDownToRunning, 0.5),
      unit: "ms",
      baseline: "adaptive: kill -9 TM -> RUNNING at 2 p50",
    },
  ];
}
