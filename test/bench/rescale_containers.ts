/**
 * The container half of `npm run bench -- rescale`: compose/elastic.yml with 2 `auto` nodes (a
 * master and one TaskManager of 2 slots) runs a reactive sequence-check job at parallelism 2;
 * each repeat scales to 3 nodes and times the new container's start (its `docker events` start)
 * -> its TaskManager registered -> every task RUNNING at 4, then scales back to 2 and times the
 * compose command -> RUNNING at 2 again. Lease 2 s, heartbeat timeout 3 s, as in the compose
 * tests; the stabilization timeout is the layout's (2 s).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { isJobEnd, JobState } from "../../components/core/mod.ts";
import { bundleJob } from "../../components/dataflow/internal_mod.ts";
import { unwrap } from "../../components/rpc/mod.ts";
import { composeProject, type NatsRest, natsRest } from "../support/compose.ts";
import { docker, ensureDocker } from "../support/docker.ts";
import { freePort } from "../support/nats.ts";
import { until } from "../support/poll.ts";
import { dispatcherRest } from "../support/rest.ts";

/** The fault suite's job: reactive rescales never use up its restart budget. */
const JOB = fileURLToPath(new URL("../faults/jobs/sequence_check.ts", import.meta.url));
/** Practically unbounded: the job runs until canceled. */
const ARGS = { keys: "8", perKey: "100000000", rate: "2000" };

export interface ContainerRescale {
  /** New container started (docker event) -> every task RUNNING at 4, ms. */
  startToRunning: number[];
  /** `compose up --scale node=3` started -> RUNNING at 4 (container creation included), ms. */
  composeToRunning: number[];
  /** New container started -> its TaskManager registered at the ResourceManager, ms. */
  startToRegistered: number[];
  /** `compose up --scale node=2` started -> RUNNING at 2 again (graceful stop of a node), ms. */
  scaleDownToRunning: number[];
}

/** Why the container measurement cannot run here, or undefined when Docker is there. */
export async function dockerMissing(): Promise<string | undefined> {
  const probe = await docker(["version", "--format", "{{.Client.Version}}"], {
    timeoutMs: 10_000,
  }).catch((err: Error) => ({ code: -1, stdout: "", stderr: err.message }));
  if (probe.code === -1) return `no docker command on PATH (${probe.stderr.trim()})`;
  try {
    await ensureDocker();
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

/** Every task of an attempt after `after` RUNNING at parallelism `p`; resolves with its attempt. */
function runningAt(rest: NatsRest, jobId: string, p: number, after: number): Promise<number> {
  return until(
    async () => {
      const job = await rest.job(jobId);
      if (isJobEnd(job.state))
        throw new Error(`job ended ${job.state}: ${JSON.stringify(job.flotilla.error)}`);
      return job.state === JobState.RUNNING &&
        job.flotilla.attempt !== undefined &&
        job.flotilla.attempt > after &&
        job.vertices.every(
          (v) => v.parallelism === p && v.tasks.RUNNING === p && Object.keys(v.tasks).length === 1,
        )
        ? job.flotilla.attempt
        : undefined;
    },
    `job ${jobId} running at ${p}`,
    { timeoutMs: 90_000, intervalMs: 50 },
  );
}

/** Container start times (ms since the epoch) of a project's containers, from `docker events`. */
function startEvents(project: string): { starts: Map<string, number>; stop(): void } {
  const starts = new Map<string, number>();
  const events: ChildProcess = spawn(
    "docker",
    [
      "events",
      "--filter",
      `label=com.docker.compose.project=${project}`,
      "--filter",
      "event=start",
      "--format",
      "{{.ID}} {{.TimeNano}}",
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  createInterface({ input: events.stdout! }).on("line", (line) => {
    const [id, nanos] = line.split(" ");
    if (id && nanos) starts.set(id, Number(BigInt(nanos) / 1_000_000n));
  });
  return { starts, stop: () => void events.kill() };
}

export async function measureContainerRescale(
  repeats: number,
  progress: (line: string) => void,
): Promise<ContainerRescale> {
  const d = await ensureDocker();
  const port = await freePort();
  const clusterId = `b${port}`;
  const project = composeProject({
    file: "compose/elastic.yml",
    project: `flotilla-bench-${port}`,
    env: {
      ...d.composeEnv,
      FLOTILLA_NATS_PORT: String(port),
      FLOTILLA_CLUSTER_ID: clusterId,
      FLOTILLA_HA_LEASE: "2s",
      FLOTILLA_HEARTBEAT_TIMEOUT: "3s",
      FLOTILLA_LOG_LEVEL: "warn",
    },
  });
  const events = startEvents(project.project);
  let rest: NatsRest | undefined;
  try {
    const up = await project.compose("up", "-d", "--scale", "node=2");
    if (up.code !== 0) throw new Error(`compose up failed: ${up.output}`);
    rest = await natsRest(`nats://127.0.0.1:${port}`, clusterId, {
      credentials: project.credentials,
    });
    const api = rest;
    const taskManagers = (n: number) =>
      until(
        async () => ((await api.overview()).taskmanagers === n ? Date.now() : undefined),
        `${n} TaskManagers registered`,
        { timeoutMs: 90_000, intervalMs: 50 },
      );
    await taskManagers(1);
    progress("containers: reactive job at 2 on one TaskManager node");
    // Over NATS, with room for a busy machine; the route takes the bundle as it is.
    const slow = dispatcherRest(api.transport, { timeoutMs: 30_000 }).api;
    const body = new Uint8Array(await bundleJob(JOB));
    const { artifact } = await unwrap(slow.artifacts.$post(undefined, { init: { body } }));
    const { jobId } = await unwrap(slow.jobs.$post({ json: { artifact, args: ARGS } }));
    let attempt = await runningAt(api, jobId, 2, -1);

    const result: ContainerRescale = {
      startToRunning: [],
      composeToRunning: [],
      startToRegistered: [],
      scaleDownToRunning: [],
    };
    for (let i = 0; i < repeats; i++) {
      progress(`containers: repeat ${i + 1}/${repeats}: --scale node=3`);
      const before = new Set(await project.ids());
      const composed = Date.now();
      // Not awaited: the job may rescale before compose v1 has even returned.
      const scaling = project.compose("up", "-d", "--no-recreate", "--scale", "node=3");
      const registered = await taskManagers(2);
      attempt = await runningAt(api, jobId, 4, attempt);
      const at4 = Date.now();
      const scaled = await scaling;
      if (scaled.code !== 0) throw new Error(`compose up --scale node=3: ${scaled.output}`);
      const added = (await project.ids()).find((id) => !before.has(id));
      const started = [...events.starts].find(([id]) => added?.startsWith(id))?.[1];
      if (started === undefined) throw new Error(`no start event for the new container ${added}`);
      result.startToRunning.push(at4 - started);
      result.composeToRunning.push(at4 - composed);
      result.startToRegistered.push(registered - started);

      progress(`containers: repeat ${i + 1}/${repeats}: --scale node=2`);
      const down = Date.now();
      const shrinking = project.compose("up", "-d", "--no-recreate", "--scale", "node=2");
      attempt = await runningAt(api, jobId, 2, attempt);
      result.scaleDownToRunning.push(Date.now() - down);
      const shrunk = await shrinking;
      if (shrunk.code !== 0) throw new Error(`compose up --scale node=2: ${shrunk.output}`);
      await taskManagers(1);
    }
    await api.cancel(jobId).catch(() => undefined);
    return result;
  } finally {
    events.stop();
    await rest?.close().catch(() => {});
    const { result, left } = await project.down();
    if (result.code !== 0 || left.length)
      progress(`compose down of ${project.project} failed: ${result.output} left ${left}`);
  }
}
