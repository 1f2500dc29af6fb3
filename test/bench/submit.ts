/**
 * `npm run bench -- submit`: session mode with warm TaskManagers and the artifact already stored.
 * submit -> RUNNING and submit -> FINISHED for a one-record job (p50/p99 over sequential
 * submissions) and sustained jobs/s, on a cluster of processes over NATS and on the embedded
 * MiniCluster (the baseline); then TaskManager-loss detection, kill -9 -> RUNNING again, and the
 * resident memory of each role idle and after 100 finished jobs.
 *
 * Flags: --jobs N (sequential submissions per cluster, default 200).
 */
import { readFileSync } from "node:fs";
import { startMiniCluster } from "../../components/cluster/mod.ts";
import { JobState } from "../../components/core/mod.ts";
import { bundleJob } from "../../components/dataflow/internal_mod.ts";
import { localTransport, unwrap } from "../../components/rpc/mod.ts";
import { clusterFor } from "../support/cluster.ts";
import { startNats } from "../support/nats.ts";
import { type DispatcherRest, dispatcherRest } from "../support/rest.ts";
import { numberFlag } from "./measure.ts";
import { type BenchResult, percentile } from "./report.ts";

const progress = (line: string) => process.stderr.write(`[bench submit] ${line}\n`);
/** Times jobs submitted through the Dispatcher's REST API (typed by its contract). */
export async function timeJobs(
  { api, job }: DispatcherRest,
  jobs: number,
  /** A pause before each timed submission (submitted back to back by default). */
  { pauseMs = 0 }: { pauseMs?: number } = {},
) {
  // The route takes the bundle as it is (copied onto an ArrayBuffer, as a request body is).
  const bundle = new Uint8Array(await bundleJob("test/bench/jobs/one_record.ts"));
  const { artifact } = await unwrap(api.artifacts.$post(undefined, { init: { body: bundle } }));
  const toRunning: number[] = [];
  const toFinished: number[] = [];
  const run = async (record: boolean) => {
    const t0 = performance.now();
    const { jobId } = await unwrap(api.jobs.$post({ json: { artifact } }));
    let sawRunning = false;
    for (;;) {
      const d = await job(jobId);
      if (!sawRunning && (d.state === JobState.RUNNING || d.state === JobState.FINISHED)) {
        sawRunning = true;
        if (record) toRunning.push(performance.now() - t0);
      }
      if (d.state === JobState.FINISHED) break;
      if (d.state === JobState.FAILED || d.state === JobState.CANCELED)
        throw new Error(`job ${d.state}: ${JSON.stringify(d.flotilla.error)}`);
      // In-process calls resolve without I/O: let timers and other tasks run between polls.
      await new Promise((r) => setImmediate(r));
    }
    if (record) toFinished.push(performance.now() - t0);
  };
  for (let i = 0; i < 10; i++) await run(false);
  for (let i = 0; i < jobs; i++) {
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
    await run(true);
  }
  // Sustained: 4 submitters at once for a fixed number of jobs.
  const t0 = performance.now();
  const total = Math.max(40, Math.floor(jobs / 2));
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next++ < total) await run(false);
    }),
  );
  const jobsPerSecond = total / ((performance.now() - t0) / 1000);
  return { toRunning, toFinished, jobsPerSecond };
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

export async function run(args: string[]): Promise<BenchResult[]> {
  const jobs = numberFlag(args, "--jobs", 200);
  const results: BenchResult[] = [];
  const teardowns: (() => unknown)[] = [];
  const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };
  try {
    progress("MiniCluster (baseline)");
    const mini = await startMiniCluster({ taskManagers: 2, slotsPerTaskManager: 2 });
    teardowns.push(() => mini.stop());
    // In-process, as the CLI reaches an embedded MiniCluster.
    const m = await timeJobs(dispatcherRest(localTransport(mini.rest)), jobs);

    progress("cluster of processes over NATS");
    const nats = await startNats();
    teardowns.push(() => nats.cleanup());
    const cluster = await clusterFor(t, nats, {
      roles: ["master"],
      env: {
        FLOTILLA_HEARTBEAT_INTERVAL: "1000",
        FLOTILLA_HEARTBEAT_TIMEOUT: "5000",
        FLOTILLA_HA_LEASE: "3000",
      },
    });
    const tms = ["tm-1", "tm-2", "tm-3"].map((id) =>
      cluster.spawn("taskmanager", { FLOTILLA_TASKMANAGER_ID: id }),
    );
    await cluster.waitFor("3 TaskManagers", async () =>
      (await cluster.overview()).taskmanagers === 3 ? true : undefined,
    );
    const masterPid = cluster.processes[0]!.pid!;
    const idleTm = rssMb(tms[0]!.pid!);
    const idleMaster = masterPid ? rssMb(masterPid) : 0;
    const n = await timeJobs(cluster, jobs);

    const base = (what: string) => `MiniCluster ${what}`;
    const pair = (what: string, mv: number, nv: number, unit: BenchResult["unit"]) => {
      results.push(
        { name: base(what), value: mv, unit },
        { name: `NATS cluster ${what}`, value: nv, unit, baseline: base(what) },
      );
    };
    pair("submit->RUNNING p50", percentile(m.toRunning, 0.5), percentile(n.toRunning, 0.5), "ms");
    pair("submit->RUNNING p99", percentile(m.toRunning, 0.99), percentile(n.toRunning, 0.99), "ms");
    pair(
      "submit->FINISHED p50",
      percentile(m.toFinished, 0.5),
      percentile(n.toFinished, 0.5),
      "ms",
    );
    pair(
      "submit->FINISHED p99",
      percentile(m.toFinished, 0.99),
      percentile(n.toFinished, 0.99),
      "ms",
    );
    pair("sustained jobs/s (4 submitters)", m.jobsPerSecond, n.jobsPerSecond, "ops/s");

    progress("memory after the finished jobs");
    const finished = (await cluster.overview())["jobs-finished"];
    results.push(
      { name: "idle TaskManager RSS", value: idleTm, unit: "MB" },
      { name: "master (Dispatcher + RM) RSS idle", value: idleMaster, unit: "MB" },
      {
        name: `master RSS after ${finished} finished jobs`,
        value: masterPid ? rssMb(masterPid) : 0,
        unit: "MB",
        baseline: "master (Dispatcher + RM) RSS idle",
      },
    );

    progress("TaskManager loss: kill -9 during a checkpointed job");
    const jobId = await cluster.submit("sequence-check.ts", {
      args: { keys: "8", perKey: "100000", rate: "5000" },
    });
    await cluster.waitFor("a checkpoint", async () =>
      (await cluster.job(jobId)).flotilla.checkpoints >= 1 ? true : undefined,
    );
    const busy = (await cluster.taskManagerDetails()).find((tm) =>
      tm.allocatedSlots.some((s) => s.jobId === jobId),
    )!;
    const victim = tms[["tm-1", "tm-2", "tm-3"].indexOf(busy.id)]!;
    const attemptBefore = (await cluster.job(jobId)).flotilla.attempt ?? -1;
    const killedAt = performance.now();
    victim.kill("SIGKILL");
    const detected = await cluster.waitFor("loss detected", async () =>
      (await cluster.overview()).taskmanagers === 2 ? performance.now() - killedAt : undefined,
    );
    const runningAgain = await cluster.waitFor(
      "running again",
      async () => {
        const d = await cluster.job(jobId);
        return (d.flotilla.attempt ?? -1) > attemptBefore &&
          d.state === JobState.RUNNING &&
          d.vertices.every(
            (v) =>
              (v.tasks.RUNNING ?? 0) === Object.values(v.tasks).reduce((a, b) => a + (b ?? 0), 0),
          )
          ? performance.now() - killedAt
          : undefined;
      },
      30_000,
    );
    results.push(
      { name: "TM loss detected (kill -9 -> RM drops it)", value: detected, unit: "ms" },
      { name: "kill -9 TM -> job RUNNING again", value: runningAgain, unit: "ms" },
    );
    await cluster.cancel(jobId);
  } finally {
    for (const fn of teardowns.reverse()) await fn();
  }
  return results;
}
