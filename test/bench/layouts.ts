/**
 * `npm run bench -- layouts`: what the compose layouts cost on this machine, driven as a user would
 * (bin/flotilla.js in child processes, Docker and the role images from ensureDocker()).
 * 1. Image sizes: each role image and what it adds to the Node base (goal: < 10 MB added), the
 *    base as baseline.
 * 2. Per-job stacks: `flotilla run <job> --target compose-job` from spawn to exit, N in a row,
 *    with the phases read from its --json events (goal: < 6 s from compose up to the stack's exit).
 * 3. Session clusters: `flotilla cluster up --layout standalone` (static TaskManagers: "a session
 *    cluster already running") and `--layout session` (the docker driver starts a TaskManager
 *    container for the first job) until ready, then the same job N times with `--cluster <rest>`:
 *    the first job and the p50 of the others. The per-job stack's p50 has each layout's p50 as its
 *    baseline, so its ratio is per-job / session (goal: >= 10x).
 *
 * The job is examples/sequence-check.ts (keys=4 perKey=1000) everywhere: compose/job.yml mounts no
 * data directory, so wordcount's sources.lines would find no input in a per-job stack's containers.
 * Every stack has its own project, REST port, cluster id and network, and is taken down at the end
 * (also on failure or Ctrl-C); the bench fails if a container, network or volume of it is left.
 *
 * Flags: --runs N (per-job stacks and jobs per session cluster, default 5, at least 2).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { bundleIsFresh } from "../../bin/bundle_fresh.js";
import { JobState } from "../../components/core/mod.ts";
import type { CheckResult } from "../../examples/sequence-check.ts";
import { type ClusterUp, eventsOf, type JobStackEvent, type RunEvent } from "../support/cli.ts";
import { testCredentials } from "../support/compose.ts";
import { type DockerEnv, docker, ensureDocker, ROLES } from "../support/docker.ts";
import { freePort } from "../support/nats.ts";
import { numberFlag } from "./measure.ts";
import { type BenchResult, percentile } from "./report.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = "bin/flotilla.js";
const JOB = "examples/sequence-check.ts";
const KEYS = 4;
const PER_KEY = 1000;
const JOB_ARGS = ["--arg", `keys=${KEYS}`, "--arg", `perKey=${PER_KEY}`];
const MB = 1024 * 1024; // as scripts/images.ts and the images test count
const progress = (line: string) => process.stderr.write(`[bench layouts] ${line}\n`);
const load = () =>
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`;

/** A finished command; `E`: what its --json lines are (`RunEvent` for `flotilla run`, ...). */
interface Spawned<E = unknown> {
  code: number | null;
  /** Milliseconds from spawn to exit. */
  ms: number;
  /** The --json lines, each with the milliseconds from spawn to its arrival. */
  events: { at: number; event: E }[];
  output: string;
}

const children = new Set<ChildProcess>();

/** `node bin/flotilla.js <args>` with `env` (the caller's FLOTILLA_* removed), timed and followed. */
async function flotilla<E = unknown>(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 180_000,
): Promise<Spawned<E>> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("FLOTILLA_")),
  );
  const started = performance.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...clean, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const events: Spawned<E>["events"] = [];
  let output = "";
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const at = performance.now() - started;
    output += `${line}\n`;
    if (!line.startsWith("{")) return;
    try {
      events.push({ at, event: JSON.parse(line) as E });
    } catch {}
  });
  child.stderr!.on("data", (c: Buffer) => {
    output += c.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c) => resolve(c));
  });
  clearTimeout(timer);
  children.delete(child);
  return { code, ms: performance.now() - started, events, output };
}

function mustSucceed<E>(what: string, run: Spawned<E>): Spawned<E> {
  if (run.code !== 0)
    throw new Error(
      `${what} exited ${run.code} after ${run.ms.toFixed(0)} ms:\n${run.output.slice(-3000)}`,
    );
  return run;
}

/** Milliseconds from spawn to the first event that matches. */
function at<E>(run: Spawned<E>, what: string, match: (e: E) => boolean): number {
  const found = run.events.find((e) => match(e.event));
  if (!found) throw new Error(`no ${what} in the output:\n${run.output.slice(-3000)}`);
  return found.at;
}

/** The sequence check's results: every key counted PER_KEY times, no alert. */
function checkResults(ended: Extract<RunEvent, { event: "ended" }> | undefined): void {
  const values = Object.values(ended?.results ?? {}).flat() as CheckResult[];
  const counts = values.filter((v) => v.kind === "count");
  const alerts = values.filter((v) => v.kind === "alert");
  if (
    ended?.state !== JobState.FINISHED ||
    alerts.length > 0 ||
    counts.length !== KEYS ||
    counts.some((c) => c.count !== PER_KEY)
  )
    throw new Error(`unexpected end of the job: ${JSON.stringify(ended).slice(0, 1000)}`);
}

// --- what this run started, and taking it down ------------------------------------------------

interface Stack {
  layout: "standalone" | "session" | "job";
  project: string;
  env: Record<string, string>;
  /** The session layout's docker driver labels its TaskManager containers with the cluster id. */
  clusterId?: string;
  down: boolean;
}

const stacks: Stack[] = [];

async function down(stack: Stack): Promise<Spawned> {
  const run = await flotilla(
    ["cluster", "down", "--layout", stack.layout, "--project", stack.project],
    stack.env,
    120_000,
  );
  if (run.code === 0) stack.down = true;
  return run;
}

/** Containers, networks and volumes of this run's stacks still present. */
async function leftovers(): Promise<string[]> {
  const left: string[] = [];
  const list = async (args: string[]) => (await docker(args)).stdout.split("\n").filter(Boolean);
  for (const s of stacks) {
    const label = `label=com.docker.compose.project=${s.project}`;
    for (const id of await list(["ps", "-aq", "--filter", label])) left.push(`container ${id}`);
    if (s.clusterId)
      for (const id of await list([
        "ps",
        "-aq",
        "--filter",
        `label=org.flotilla.cluster=${s.clusterId}`,
      ]))
        left.push(`container ${id}`);
    for (const id of await list(["network", "ls", "-q", "--filter", label]))
      left.push(`network ${id}`);
    for (const id of await list(["volume", "ls", "-q", "--filter", label]))
      left.push(`volume ${id}`);
  }
  return [...new Set(left)];
}

let cleaning: Promise<void> | undefined;

/** Takes down every stack not yet down, then checks that nothing of this run is left; once. */
function cleanUp(): Promise<void> {
  cleaning ??= takeDownAll();
  return cleaning;
}

async function takeDownAll(): Promise<void> {
  for (const s of stacks.filter((s) => !s.down)) {
    progress(`taking down ${s.layout} stack ${s.project}`);
    const run = await down(s);
    if (run.code !== 0)
      progress(`cluster down ${s.project} exited ${run.code}: ${run.output.slice(-500)}`);
  }
  let left = await leftovers();
  if (left.length === 0) {
    progress(
      `nothing left behind (${stacks.length} stacks checked with docker ps -a, network ls, volume ls)`,
    );
    return;
  }
  progress(`left behind after cluster down: ${left.join(", ")}; removing them by force`);
  for (const item of left) {
    const [kind, id] = item.split(" ") as [string, string];
    await docker(kind === "container" ? ["rm", "-f", "-v", id] : [kind, "rm", id]);
  }
  left = await leftovers();
  if (left.length > 0) throw new Error(`could not remove: ${left.join(", ")}`);
  throw new Error("cluster down left containers, networks or volumes behind (removed by force)");
}

// --- 1. image sizes --------------------------------------------------------------------------

async function imageSizes(d: DockerEnv): Promise<BenchResult[]> {
  const size = async (image: string) => {
    const out = await docker(["image", "inspect", "-f", "{{.Size}}", image]);
    if (out.code !== 0) throw new Error(`docker image inspect ${image}: ${out.stderr.trim()}`);
    return Number(out.stdout.trim()) / MB;
  };
  const base = `base image ${d.nodeImage}`;
  const baseMb = await size(d.nodeImage);
  const results: BenchResult[] = [{ name: base, value: baseMb, unit: "MB" }];
  for (const role of ROLES) {
    const mb = await size(d.images[role]);
    results.push({ name: `${role} image`, value: mb, unit: "MB", baseline: base });
    results.push({ name: `${role} image, added over the base`, value: mb - baseMb, unit: "MB" });
  }
  return results;
}

// --- 2. per-job stacks -----------------------------------------------------------------------

async function perJobStacks(d: DockerEnv, runs: number) {
  const phases = {
    total: [] as number[],
    beforeUp: [] as number[],
    upToExit: [] as number[],
    containers: [] as number[],
    job: [] as number[],
    stopping: [] as number[],
    down: [] as number[],
  };
  for (let i = 0; i < runs; i++) {
    const project = `flotilla-bench-job-${process.pid}-${i + 1}`;
    const stack: Stack = { layout: "job", project, env: { ...d.composeEnv }, down: false };
    stacks.push(stack);
    const run = mustSucceed(
      `per-job stack ${project}`,
      await flotilla<JobStackEvent>(
        ["run", JOB, "--target", "compose-job", "--project", project, "--json", ...JOB_ARGS],
        stack.env,
      ),
    );
    stack.down = true; // runComposeJob removed it: the leftover check at the end says otherwise
    const up = at(run, "stack event", (e) => e.event === "stack");
    const jmFirst = at(run, "jobmanager log line", (e) => e.event === "log");
    const jobEnded = at(
      run,
      '"job ended" log line',
      (e) => e.event === "log" && e.msg === "job ended",
    );
    const exited = at(run, "ended event", (e) => e.event === "ended");
    const [ended] = eventsOf(
      run.events.map((e) => e.event),
      "ended",
    );
    if (ended?.state !== JobState.FINISHED)
      throw new Error(`per-job stack ended ${JSON.stringify(ended)}`);
    phases.total.push(run.ms);
    phases.beforeUp.push(up);
    phases.upToExit.push(exited - up);
    phases.containers.push(jmFirst - up);
    phases.job.push(jobEnded - jmFirst);
    phases.stopping.push(exited - jobEnded);
    phases.down.push(run.ms - exited);
    progress(
      `per-job stack ${i + 1}/${runs}: ${(run.ms / 1000).toFixed(2)} s spawn to exit ` +
        `(before up ${up.toFixed(0)} ms, up to stack exit ${(exited - up).toFixed(0)} ms, ` +
        `down ${(run.ms - exited).toFixed(0)} ms)`,
    );
  }
  return phases;
}

// --- 3. session clusters ---------------------------------------------------------------------

async function sessionCluster(d: DockerEnv, layout: "standalone" | "session", runs: number) {
  const port = await freePort();
  const project = `flotilla-bench-${layout}-${process.pid}`;
  const clusterId = `bench${layout === "session" ? "s" : "a"}${port}`;
  const rest = `http://127.0.0.1:${port}`;
  const env = {
    ...d.composeEnv,
    FLOTILLA_REST_PORT: String(port),
    FLOTILLA_CLUSTER_ID: clusterId,
    // The secrets cluster up would make, in a temporary dir rather than ~/.flotilla.
    FLOTILLA_CREDENTIALS_DIR: testCredentials(project, clusterId),
    ...(layout === "session" ? { FLOTILLA_NETWORK: project } : {}),
  };
  const stack: Stack = {
    layout,
    project,
    env,
    ...(layout === "session" ? { clusterId } : {}),
    down: false,
  };
  stacks.push(stack);
  progress(`${layout}: cluster up as ${project} on ${rest}`);
  const up = mustSucceed(
    `cluster up --layout ${layout}`,
    await flotilla<ClusterUp>(
      ["cluster", "up", "--layout", layout, "--project", project, "--json"],
      env,
    ),
  );
  const overview = up.events.at(-1)?.event.overview;
  progress(
    `${layout}: ready in ${(up.ms / 1000).toFixed(2)} s (${overview?.taskmanagers ?? "?"} TaskManagers)`,
  );
  const jobs: number[] = [];
  const onCluster: number[] = [];
  const toSubmitted: number[] = [];
  for (let i = 0; i < runs; i++) {
    const run = mustSucceed(
      `${layout} job ${i + 1}`,
      await flotilla<RunEvent>(["run", JOB, "--cluster", rest, "--json", ...JOB_ARGS], env),
    );
    const submitted = at(run, "submitted event", (e) => e.event === "submitted");
    const endedAt = at(run, "ended event", (e) => e.event === "ended");
    checkResults(
      eventsOf(
        run.events.map((e) => e.event),
        "ended",
      )[0],
    );
    jobs.push(run.ms);
    onCluster.push(endedAt - submitted);
    toSubmitted.push(submitted);
    progress(
      `${layout}: job ${i + 1}/${runs} ${run.ms.toFixed(0)} ms spawn to exit ` +
        `(submitted to ended ${(endedAt - submitted).toFixed(0)} ms)`,
    );
  }
  const taken = await down(stack);
  if (taken.code !== 0)
    throw new Error(`cluster down ${project} exited ${taken.code}: ${taken.output}`);
  progress(`${layout}: down in ${(taken.ms / 1000).toFixed(2)} s`);
  return { up: up.ms, jobs, onCluster, toSubmitted, down: taken.ms };
}

// --- the benchmark ---------------------------------------------------------------------------

export async function run(args: string[]): Promise<BenchResult[]> {
  const runs = numberFlag(args, "--runs", 5);
  if (!Number.isInteger(runs) || runs < 2) throw new Error("--runs must be a whole number >= 2");
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: taking down what this run started`);
    for (const child of children) child.kill("SIGTERM");
    void cleanUp()
      .catch((err: Error) => progress(err.message))
      .finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  progress("ensureDocker(): scripts/docker-env.sh (engine, base images, role images)");
  const t0 = performance.now();
  const d = await ensureDocker();
  progress(
    `Docker ready in ${((performance.now() - t0) / 1000).toFixed(1)} s: base ${d.nodeImage}, ` +
      `NATS ${d.natsImage}, role images tagged ${d.composeEnv.FLOTILLA_IMAGE_TAG}`,
  );
  progress(
    bundleIsFresh()
      ? "dist/flotilla.mjs is fresh: bin/flotilla.js runs the prebuilt bundle"
      : "dist/flotilla.mjs is missing or older than the sources: bin/flotilla.js runs them through tsx (npm run build first)",
  );
  progress(
    `job: ${JOB} keys=${KEYS} perKey=${PER_KEY} in every layout (compose/job.yml mounts no data ` +
      "directory, so examples/wordcount.ts would find no input file in a per-job stack)",
  );
  progress(load());

  const results: BenchResult[] = [];
  let failure: unknown;
  try {
    results.push(...(await imageSizes(d)));

    progress(`${runs} per-job stacks in a row`);
    const job = await perJobStacks(d, runs);
    progress(load());
    const standalone = await sessionCluster(d, "standalone", runs);
    progress(load());
    const session = await sessionCluster(d, "session", runs);
    progress(load());

    const later = `jobs 2-${runs}`;
    const p50 = (xs: number[]) => percentile(xs, 0.5);
    const stPer = `standalone: job, spawn to exit, ${later} p50`;
    const sePer = `session: job, spawn to exit, ${later} p50`;
    const perJob = "per-job stack: run, spawn to exit p50";
    results.push(
      { name: "per-job stack: run, spawn to exit, 1st", value: job.total[0]!, unit: "ms" },
      { name: perJob, value: p50(job.total), unit: "ms", baseline: stPer },
      { name: `${perJob} (vs session layout)`, value: p50(job.total), unit: "ms", baseline: sePer },
      { name: "per-job stack: run, spawn to exit max", value: Math.max(...job.total), unit: "ms" },
      { name: "per-job stack: compose up to stack exit p50", value: p50(job.upToExit), unit: "ms" },
      {
        name: "per-job stack: compose up to stack exit max",
        value: Math.max(...job.upToExit),
        unit: "ms",
      },
      {
        name: "per-job stack:   before up (bundle, plan) p50",
        value: p50(job.beforeUp),
        unit: "ms",
      },
      {
        name: "per-job stack:   up to jobmanager's 1st log p50",
        value: p50(job.containers),
        unit: "ms",
      },
      { name: "per-job stack:   1st log to job ended p50", value: p50(job.job), unit: "ms" },
      {
        name: "per-job stack:   job ended to stack exit p50",
        value: p50(job.stopping),
        unit: "ms",
      },
      { name: "per-job stack:   down after exit p50", value: p50(job.down), unit: "ms" },
    );
    for (const [layout, s] of [
      ["standalone", standalone],
      ["session", session],
    ] as const) {
      const rest = s.jobs.slice(1);
      const other = layout === "session" ? "standalone" : undefined;
      const vs = (name: string) => (other ? { baseline: name.replace(layout, other) } : {});
      const rows: BenchResult[] = [
        { name: `${layout}: cluster up until ready`, value: s.up, unit: "ms" },
        { name: `${layout}: job, spawn to exit, 1st`, value: s.jobs[0]!, unit: "ms" },
        { name: `${layout}: job, spawn to exit, ${later} p50`, value: p50(rest), unit: "ms" },
        {
          name: `${layout}: job, spawn to exit, ${later} max`,
          value: Math.max(...rest),
          unit: "ms",
        },
        {
          name: `${layout}: job, spawn to submitted (bundle, upload), ${later} p50`,
          value: p50(s.toSubmitted.slice(1)),
          unit: "ms",
        },
        {
          name: `${layout}: job, submitted to ended, ${later} p50`,
          value: p50(s.onCluster.slice(1)),
          unit: "ms",
        },
        { name: `${layout}: cluster down`, value: s.down, unit: "ms" },
      ];
      results.push(...rows.map((r) => ({ ...r, ...vs(r.name) })));
    }
    const added = results.filter((r) => r.name.endsWith("added over the base"));
    progress(
      `goals: per-job compose up to stack exit p50 ${(p50(job.upToExit) / 1000).toFixed(2)} s (< 6 s); ` +
        `per-job / session p50 ${(p50(job.total) / p50(standalone.jobs.slice(1))).toFixed(1)}x standalone, ` +
        `${(p50(job.total) / p50(session.jobs.slice(1))).toFixed(1)}x session (>= 10x); ` +
        `most added over the base ${Math.max(...added.map((r) => r.value)).toFixed(2)} MB (< 10 MB)`,
    );
  } catch (err) {
    failure = err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    // Always: a failed measurement must not leave a stack running. The first error wins.
    await cleanUp().catch((err: Error) => {
      if (failure === undefined) failure = err;
      else progress(`clean-up: ${err.message}`);
    });
  }
  if (failure !== undefined) throw failure;
  return results;
}
