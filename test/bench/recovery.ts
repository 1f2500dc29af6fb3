/**
 * `npm run bench -- recovery`: how long a running job is down after a fault, with the default
 * timings (heartbeat.interval 1 s, heartbeat.timeout 5 s, ha.lease 3 s). The sequence-check job
 * (checkpoints every 200 ms) runs on two masters (a leader and a standby) and TaskManagers with
 * spare slots, real processes over a real nats-server:
 *
 * - kill -9 a TaskManager running tasks of the job -> the job RUNNING again (a new attempt with
 *   every task running), N times (a replacement TaskManager is started after each kill);
 * - kill -9 the leading master -> RUNNING again under the standby, N times (the killed one comes
 *   back as the next standby).
 *
 * Goals (issue 7): TaskManager p50 <= 3 s, master p50 <= 6 s. Baseline, measured in the same
 * run: submit -> RUNNING of the same job on the same cluster.
 *
 * Flags: --faults N (per kind, default 10).
 */

import { JobState } from "../../components/core/mod.ts";
import { type FaultCluster, faultCluster } from "../faults/support/cluster.ts";
import { type Fault, Timeline } from "../faults/support/timeline.ts";
import { numberFlag } from "./measure.ts";
import { type BenchResult, percentile } from "./report.ts";

const progress = (line: string) => process.stderr.write(`[bench recovery] ${line}\n`);

/** The defaults of components/core/config.ts, spelled out: the test harness uses faster ones. */
const DEFAULT_TIMINGS = {
  FLOTILLA_HEARTBEAT_INTERVAL: "1000",
  FLOTILLA_HEARTBEAT_TIMEOUT: "5000",
  FLOTILLA_HA_LEASE: "3000",
};

/** A job that outlasts the benchmark; it is canceled at the end. */
const LONG_JOB = { keys: "16", perKey: "100000000", rate: "500" };

async function busyTaskManagers(cluster: FaultCluster, jobId: string): Promise<string[]> {
  return (await cluster.taskManagerDetails())
    .filter((tm) => cluster.tms.has(tm.id) && tm.allocatedSlots.some((s) => s.jobId === jobId))
    .map((tm) => tm.id);
}

/** Waits until the job is RUNNING after `fault` and has checkpointed since: ready for the next. */
async function recover(timeline: Timeline, fault: Fault): Promise<number> {
  const back = await timeline.recovered(fault, 60_000).catch((err: Error) => {
    throw new Error(
      `${err.message} (60 s): the job did not come back; see the README of test/faults for known bugs`,
    );
  });
  await timeline.until(
    "a checkpoint after the recovery",
    (s) => s.running && (s.lastCheckpoint?.timestamp ?? 0) > back.at,
    30_000,
  );
  return back.at - fault.at;
}

async function submitToRunning(cluster: FaultCluster, runs: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = Date.now();
    const jobId = await cluster.submit({ keys: "16", perKey: "100000", rate: "500" }, 4);
    const timeline = new Timeline(cluster, jobId).start();
    const running = await timeline.until("RUNNING", (s) => s.running, 30_000);
    samples.push(running.at - t0);
    await cluster.call("PATCH", `/jobs/${jobId}?mode=cancel`);
    await timeline.until("canceled", (s) => s.state === JobState.CANCELED, 30_000);
    await timeline.stop();
    await cluster.waitFor("slots free again", async () => {
      const overview = await cluster.overview();
      return overview["slots-available"] === overview["slots-total"] ? true : undefined;
    });
  }
  return samples;
}

export async function run(args: string[]): Promise<BenchResult[]> {
  const faults = numberFlag(args, "--faults", 10);
  const teardowns: (() => unknown)[] = [];
  const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };
  try {
    progress(`cluster: 2 masters, 4 TaskManagers x 2 slots, default timings`);
    const cluster = await faultCluster(t, { masters: 2, taskManagers: 4, env: DEFAULT_TIMINGS });
    progress("baseline: submit -> RUNNING");
    await submitToRunning(cluster, 2); // warm-up: artifact uploaded, every process has loaded it
    const submit = await submitToRunning(cluster, faults);

    const jobId = await cluster.submit(LONG_JOB, 4);
    const timeline = new Timeline(cluster, jobId).start();
    teardowns.push(() => timeline.stop());
    await timeline.until("RUNNING with a checkpoint", (s) => s.running && !!s.lastCheckpoint);

    const tm: number[] = [];
    for (let i = 0; i < faults; i++) {
      const [victim] = await busyTaskManagers(cluster, jobId);
      const fault = timeline.fault(`kill -9 ${victim}`);
      await cluster.signal(victim!, "SIGKILL");
      cluster.startTaskManager();
      tm.push(await recover(timeline, fault));
      progress(`kill -9 TaskManager ${i + 1}/${faults}: RUNNING again in ${tm.at(-1)} ms`);
    }

    const master: number[] = [];
    for (let i = 0; i < faults; i++) {
      const leader = (await cluster.leader())!;
      const fault = timeline.fault(`kill -9 ${leader}`);
      await cluster.signal(leader, "SIGKILL");
      const standby = cluster.startMaster();
      master.push(await recover(timeline, fault));
      await standby;
      progress(`kill -9 leading master ${i + 1}/${faults}: RUNNING again in ${master.at(-1)} ms`);
    }
    await cluster.call("PATCH", `/jobs/${jobId}?mode=cancel`);

    const base = "submit->RUNNING p50";
    const goal = (what: string, p50: number, limit: number) =>
      progress(`${what}: p50 ${p50} ms, goal <= ${limit} ms: ${p50 <= limit ? "met" : "MISSED"}`);
    goal("kill -9 TaskManager -> RUNNING", percentile(tm, 0.5), 3000);
    goal("kill -9 leading master -> RUNNING", percentile(master, 0.5), 6000);
    return [
      { name: base, value: percentile(submit, 0.5), unit: "ms" },
      { name: "submit->RUNNING max", value: Math.max(...submit), unit: "ms" },
      { name: "kill -9 TM -> RUNNING p50", value: percentile(tm, 0.5), unit: "ms", baseline: base },
      { name: "kill -9 TM -> RUNNING max", value: Math.max(...tm), unit: "ms", baseline: base },
      {
        name: "kill -9 master -> RUNNING p50",
        value: percentile(master, 0.5),
        unit: "ms",
        baseline: base,
      },
      {
        name: "kill -9 master -> RUNNING max",
        value: Math.max(...master),
        unit: "ms",
        baseline: base,
      },
    ];
  } finally {
    for (const fn of teardowns.reverse()) await fn();
  }
}
