/**
 * `npm run bench -- job_process`: what running a job's subtasks in a process of their own costs
 * (`taskmanager.job-process: process`, the roles' default), against the same cluster running them
 * in the TaskManager's process (`none`), in one run. A cluster of processes (nats-server, a master,
 * one TaskManager with 4 slots) runs the benchmark's word count at parallelism 2: every record
 * crosses a hash exchange, whose channels go through the TaskManager's relay when the tasks run
 * in a job process. Printed: words/s from RUNNING to FINISHED (best of the runs), and
 * submit -> RUNNING (p50), which includes starting the job's process.
 *
 * Flags: --lines N (lines of ten words per job, default 200000), --runs N (jobs per mode, default 3).
 */
import { performance } from "node:perf_hooks";
import { JobState } from "../../components/core/mod.ts";
import { bundleJob } from "../../components/dataflow/internal_mod.ts";
import { unwrap } from "../../components/rpc/mod.ts";
import { clusterFor } from "../support/cluster.ts";
import { startNats } from "../support/nats.ts";
import { numberFlag } from "./measure.ts";
import type { BenchResult } from "./report.ts";

const progress = (line: string) => process.stderr.write(`[bench job_process] ${line}\n`);

type Mode = "none" | "process";

export async function run(args: string[]): Promise<BenchResult[]> {
  const lines = numberFlag(args, "--lines", 200_000);
  const runs = numberFlag(args, "--runs", 3);
  const teardowns: (() => unknown)[] = [];
  const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };
  try {
    const nats = await startNats();
    teardowns.push(() => nats.cleanup());
    const bundle = new Uint8Array(await bundleJob("test/bench/jobs/wordcount_job.ts"));

    const measure = async (mode: Mode) => {
      progress(`taskmanager.job-process: ${mode}`);
      const cluster = await clusterFor(t, nats, {
        roles: [],
        env: { FLOTILLA_REST_AUTHENTICATION: "none", FLOTILLA_DISPATCHER_GRAPH_SANDBOX: "none" },
        ready: async () => {},
      });
      const procs = [
        cluster.spawn("master"),
        cluster.spawn("taskmanager", {
          FLOTILLA_TASKMANAGER_SLOTS: "4",
          FLOTILLA_TASKMANAGER_JOB_PROCESS: mode,
        }),
      ];
      await cluster.waitFor("the TaskManager", async () =>
        (await cluster.overview().catch(() => undefined))?.taskmanagers === 1 ? true : undefined,
      );
      const { artifact } = await unwrap(
        cluster.api.artifacts.$post(undefined, { init: { body: bundle } }),
      );
      const rates: number[] = [];
      const toRunning: number[] = [];
      for (let i = 0; i <= runs; i++) {
        const t0 = performance.now();
        const { jobId } = await unwrap(
          cluster.api.jobs.$post({
            json: { artifact, parallelism: 2, args: { lines: String(lines) } },
          }),
        );
        let running: number | undefined;
        for (;;) {
          const d = await cluster.job(jobId);
          if (
            running === undefined &&
            (d.state === JobState.RUNNING || d.state === JobState.FINISHED)
          )
            running = performance.now();
          if (d.state === JobState.FINISHED) break;
          if (d.state === JobState.FAILED || d.state === JobState.CANCELED)
            throw new Error(`job ${d.state}: ${JSON.stringify(d.flotilla.error)}`);
          await new Promise((r) => setTimeout(r, 5));
        }
        const seconds = (performance.now() - (running ?? t0)) / 1000;
        // The first job warms the TaskManager (and its code caches) up: not counted.
        if (i === 0) continue;
        rates.push((lines * 10) / seconds);
        toRunning.push((running ?? t0) - t0);
        progress(`${mode}: ${Math.round((lines * 10) / seconds)} words/s`);
      }
      for (const p of procs) p.kill("SIGKILL");
      return { rates, toRunning };
    };

    const inProcess = await measure("none");
    const isolated = await measure("process");
    const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return [
      {
        name: "word count, tasks in the TaskManager",
        value: Math.max(...inProcess.rates),
        unit: "records/s",
      },
      {
        name: "word count, tasks in a job process",
        value: Math.max(...isolated.rates),
        unit: "records/s",
        baseline: "word count, tasks in the TaskManager",
      },
      {
        name: "submit->RUNNING p50, tasks in the TaskManager",
        value: p50(inProcess.toRunning),
        unit: "ms",
      },
      {
        name: "submit->RUNNING p50, tasks in a job process",
        value: p50(isolated.toRunning),
        unit: "ms",
        baseline: "submit->RUNNING p50, tasks in the TaskManager",
      },
    ];
  } finally {
    for (const fn of teardowns.reverse()) await Promise.resolve(fn()).catch(() => {});
  }
}
