/**
 * The job commands: run (bundle, upload, submit, follow, print results), plan, list, status,
 * cancel, stop, savepoint. Every command prints one line per fact for people, or JSON with --json.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  type Config,
  ErrorCode,
  FlotillaError,
  isJobEnd,
  JobState,
  TimeoutError,
} from "../core/mod.ts";
import { bundleJob, loadArtifact } from "../dataflow/internal_mod.ts";
import type { JobDetails } from "../protocol/mod.ts";
import { unwrap } from "../rpc/mod.ts";
import { remote } from "./cli_config.ts";
import { type ClusterApi, localCluster } from "./cluster_api.ts";
import { EXIT, type Output } from "./io.ts";
import { usage } from "./usage.ts";

/** A job's details, typed from the Dispatcher's contract. */
const detailsOf = (cluster: ClusterApi, jobId: string): Promise<JobDetails> =>
  unwrap(cluster.client.jobs[":jobId"].$get({ param: { jobId } }));

export function parseArgs(raw: unknown): Record<string, string> {
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const args: Record<string, string> = {};
  for (const item of list.map(String)) {
    const at = item.indexOf("=");
    if (at <= 0) throw usage(`bad --arg ${JSON.stringify(item)}: use --arg key=value`);
    args[item.slice(0, at)] = item.slice(at + 1);
  }
  return args;
}

/**
 * `--secret name=file`: the job's own secrets, each read from its file here (never a value on the
 * command line, where `ps` and shell history would show it). Trailing newlines are trimmed by
 * env.secret, as for mounted files.
 */
export function readSecrets(raw: unknown): Record<string, string> {
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const secrets: Record<string, string> = {};
  for (const item of list.map(String)) {
    const at = item.indexOf("=");
    if (at <= 0 || at === item.length - 1)
      throw usage(
        `bad --secret ${JSON.stringify(item.slice(0, Math.max(at, 0)) || item)}: use --secret name=file (the file holds the value)`,
      );
    const name = item.slice(0, at);
    const file = item.slice(at + 1);
    if (!existsSync(file))
      throw usage(`--secret ${name}: ${file} is no file (the file holds the secret's value)`);
    secrets[name] = readFileSync(file, "utf8");
  }
  return secrets;
}

export function parallelismOf(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw usage(`bad --parallelism ${JSON.stringify(raw)}: use a whole number >= 1`);
  return n;
}

async function bundle(file: string): Promise<Uint8Array> {
  if (!existsSync(file)) throw new FlotillaError(ErrorCode.NOT_FOUND, `${file}: no such file`);
  const bytes = await bundleJob(resolve(file));
  await loadArtifact(bytes, { name: file }); // a module that is not a job fails here, named
  return bytes;
}

/** Writes the job's artifact to a file (what a per-job image or stack mounts) and prints its id. */
export async function bundleCommand(
  file: string,
  flags: Record<string, unknown>,
  out: Output,
): Promise<number> {
  const bytes = await bundle(file);
  const { artifactHash } = await import("../dataflow/internal_mod.ts");
  const artifact = await artifactHash(bytes);
  const target = (flags.out as string | undefined) ?? `${artifact.slice(0, 12)}.mjs`;
  const { writeFile } = await import("node:fs/promises");
  await writeFile(target, bytes);
  if (out.json) out.event({ artifact, path: target, bytes: bytes.byteLength });
  else out.line(`${target}: artifact ${artifact} (${bytes.byteLength} bytes)`);
  return EXIT.ok;
}

export async function plan(
  file: string,
  flags: Record<string, unknown>,
  out: Output,
): Promise<number> {
  const job = await loadArtifact(await bundle(file), { name: file });
  const graph = job.graph({
    args: parseArgs(flags.arg),
    ...(parallelismOf(flags.parallelism) ? { parallelism: parallelismOf(flags.parallelism)! } : {}),
  });
  const p = graph.plan();
  if (out.json) out.event(p);
  else {
    out.line(
      `${p.name}: parallelism ${p.parallelism}, max ${p.maxParallelism}${p.checkpointing ? `, checkpoints every ${p.checkpointing.intervalMs} ms` : ""}`,
    );
    for (const v of p.vertices)
      out.line(`  ${v.id}  ${v.name}  x${v.parallelism}  [${v.slotSharingGroup}]`);
    for (const e of p.edges) out.line(`  ${e.source} -> ${e.target}  (${e.partitioning})`);
  }
  return EXIT.ok;
}

const count = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : String(n);

/**
 * One status line: job state, tasks per vertex by state, and (with `records`) records in/out and
 * the last checkpoint. Plain output leaves the moving counters out so it prints only on change.
 */
function describe(d: JobDetails, records = true): string {
  const vertices = d.vertices.map((v) => {
    const tasks =
      Object.entries(v.tasks)
        .map(([s, n]) => `${n} ${s}`)
        .join(", ") || "-";
    const io = records ? ` (in ${count(v.recordsIn)}, out ${count(v.recordsOut)})` : "";
    // Adaptive jobs change parallelism: show it and its bounds (the tasks count says it otherwise).
    const b = v.parallelismBounds;
    const p =
      d.scheduler && d.scheduler !== "default"
        ? ` x${v.parallelism}${b ? ` [${b.lowerBound}..${b.upperBound}]` : ""}`
        : "";
    return `${v.name}${p} ${tasks}${io}`;
  });
  const cp =
    records && d.lastCheckpoint
      ? `, checkpoint ${d.lastCheckpoint.id} ${((Date.now() - d.lastCheckpoint.timestamp) / 1000).toFixed(0)} s ago`
      : d.checkpoints
        ? `, ${d.checkpoints} checkpoints`
        : "";
  return `${d.state}${d.restarts ? `, ${d.restarts} restarts` : ""}${d.rescales ? `, ${d.rescales} rescales` : ""}${cp}${vertices.length ? ` | ${vertices.join(" | ")}` : ""}${d.waitingFor ? ` | ${d.waitingFor}` : ""}`;
}

/**
 * A read the cluster cannot answer for a while (its master failing over: 503 from a standby, no
 * responders on NATS, a refused connection) is retried for up to a minute, saying so once.
 */
async function throughFailover<T>(read: () => Promise<T>, out: Output): Promise<T> {
  const deadline = Date.now() + 60_000;
  let said = false;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      const code = (err as FlotillaError).code;
      if ((code !== ErrorCode.UNAVAILABLE && code !== ErrorCode.TIMEOUT) || Date.now() > deadline)
        throw err;
      if (!said) {
        out.event({ event: "unavailable", message: (err as Error).message });
        if (!out.json) out.line(`cluster unavailable (${(err as Error).message}); retrying`);
        said = true;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export async function run(
  file: string,
  flags: Record<string, unknown>,
  out: Output,
  config: Config,
): Promise<number> {
  const target =
    (flags.target as string | undefined) ?? (config["cluster.address"] ? "remote" : "local");
  if (!["local", "remote", "compose-job"].includes(target))
    throw usage(`bad --target ${JSON.stringify(target)}: use local, remote or compose-job`);
  if (flags.detached && target !== "remote")
    throw usage("--detached needs a remote cluster: the embedded one ends with this process");
  if (flags.tls && target !== "compose-job")
    throw usage(
      "--tls starts a compose-job stack on TLS (--target compose-job); a remote cluster's address says whether it is TLS (https://, tls://)",
    );
  const args = parseArgs(flags.arg);
  const secrets = readSecrets(flags.secret);
  if (flags.secret !== undefined && target === "compose-job")
    throw usage(
      "--secret submits a secret to a session cluster; a compose-job stack's secrets are compose secrets: declare them in its compose file",
    );
  const parallelism = parallelismOf(flags.parallelism);
  const bytes = await bundle(file);
  if (target === "compose-job") {
    const { runComposeJob } = await import("./cluster_commands.ts");
    const job = await loadArtifact(bytes, { name: file });
    return runComposeJob(bytes, job, {
      args,
      ...(parallelism ? { parallelism } : {}),
      flags,
      out,
      config,
    });
  }
  const cluster =
    target === "remote"
      ? remote(config)
      : await localCluster({ natsUrl: config["nats.url"], timeoutMs: config["client.timeout"] });
  try {
    const { artifact, uploaded } = await cluster.upload(bytes);
    out.event({ event: "artifact", artifact, bytes: bytes.byteLength, uploaded });
    if (!out.json)
      out.line(
        `${file}: artifact ${artifact.slice(0, 12)} (${bytes.byteLength} bytes${uploaded ? ", uploaded" : ", already on the cluster"})`,
      );
    const savepoint = flags.fromSavepoint as string | undefined;
    const request = {
      artifact,
      args,
      ...(parallelism ? { parallelism } : {}),
      ...(savepoint ? { savepoint } : {}),
      ...(Object.keys(secrets).length > 0 ? { secrets } : {}),
    };
    const { jobId } = await cluster.submit(request, (why) => {
      out.event({ event: "busy", reason: why });
      if (!out.json) out.line(`the cluster is busy (${why}): retrying`);
    });
    out.event({ event: "submitted", jobId, cluster: cluster.target });
    if (!out.json) out.line(`submitted ${jobId} to ${cluster.target}`);
    if (flags.detached) return EXIT.ok;
    const tty = !out.json && process.stdout.isTTY === true;
    let last = "";
    let details: JobDetails;
    let polls = 0;
    for (;;) {
      details = await throughFailover(() => detailsOf(cluster, jobId), out);
      // A status event or plain line when state, tasks or checkpoints change; a TTY line always.
      const changed = describe(details, false);
      if (tty)
        process.stdout.write(
          `\r\x1b[2K${describe(details).slice(0, process.stdout.columns || 200)}`,
        );
      if (changed !== last) {
        last = changed;
        out.event({
          event: "status",
          jobId,
          state: details.state,
          restarts: details.restarts,
          checkpoints: details.checkpoints,
          ...(details.lastCheckpoint ? { lastCheckpoint: details.lastCheckpoint } : {}),
          vertices: details.vertices.map((v) => ({
            id: v.id,
            name: v.name,
            parallelism: v.parallelism,
            tasks: v.tasks,
            recordsIn: v.recordsIn,
            recordsOut: v.recordsOut,
          })),
        });
        if (!out.json && !tty) out.line(describe(details));
      }
      if (isJobEnd(details.state)) break;
      // Short jobs end within a few polls; long ones are not polled more than 4 times a second.
      await new Promise((r) => setTimeout(r, Math.min(10 * 2 ** polls++, 250)));
    }
    if (tty) process.stdout.write("\n");
    const results = await throughFailover(
      () => unwrap(cluster.client.jobs[":jobId"].results.$get({ param: { jobId } })),
      out,
    );
    if (out.json)
      out.event({ event: "ended", jobId, state: details.state, error: details.error, results });
    else {
      for (const [sink, values] of Object.entries(results)) {
        out.line(`${sink}: ${values.length} results`);
        for (const value of values) out.line(`  ${JSON.stringify(value)}`);
      }
      out.line(`${jobId} ${details.state}${details.error ? `: ${details.error.message}` : ""}`);
    }
    return details.state === JobState.FINISHED
      ? EXIT.ok
      : details.state === JobState.CANCELED
        ? EXIT.canceled
        : EXIT.failed;
  } finally {
    await cluster.close();
  }
}

/** Runs `command` against the configured cluster and closes the connection after. */
async function withCluster(
  config: Config,
  command: (cluster: ClusterApi) => Promise<number>,
): Promise<number> {
  const cluster = remote(config);
  try {
    return await command(cluster);
  } finally {
    await cluster.close();
  }
}

export function list(_flags: Record<string, unknown>, out: Output, config: Config) {
  return withCluster(config, async (cluster) => {
    const jobs = await cluster.jobs();
    if (out.json) out.event({ jobs });
    else if (jobs.length === 0) out.line("no jobs");
    else for (const j of jobs) out.line(`${j.id}  ${j.state.padEnd(10)}  ${j.name}`);
    return EXIT.ok;
  });
}

export function status(
  jobId: string,
  _flags: Record<string, unknown>,
  out: Output,
  config: Config,
) {
  return withCluster(config, async (cluster) => {
    const d = await detailsOf(cluster, jobId);
    if (out.json) out.event(d);
    else out.line(`${jobId} ${d.name}: ${describe(d)}`);
    return EXIT.ok;
  });
}

/** While a canceled job has not ended, how often `cancel` says it still waits. */
const CANCEL_PROGRESS_MS = 5000;
const seconds = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${Math.round(ms / 1000)} s`);

/**
 * Cancels the job and waits, up to `client.cancel-timeout` (`--timeout`), until it ended, saying
 * every few seconds that it still waits. Nothing announces a job's end to a client: it asks.
 */
export function cancel(
  jobId: string,
  _flags: Record<string, unknown>,
  out: Output,
  config: Config,
) {
  const timeoutMs = config["client.cancel-timeout"];
  return withCluster(config, async (cluster) => {
    await unwrap(
      cluster.client.jobs[":jobId"].$patch({ param: { jobId }, query: { mode: "cancel" } }),
    );
    const started = performance.now();
    let said = started;
    for (;;) {
      const { state } = await detailsOf(cluster, jobId);
      if (isJobEnd(state)) {
        if (out.json) out.event({ jobId, state });
        else out.line(`${jobId} ${state}`);
        return EXIT.ok;
      }
      const waited = performance.now() - started;
      if (waited >= timeoutMs)
        throw new TimeoutError(
          `job ${jobId} was canceled but did not end within ${seconds(timeoutMs)} (it is ${state}): 'flotilla status ${jobId}' shows what it waits for; wait longer with --timeout (client.cancel-timeout)`,
        );
      if (performance.now() - said >= CANCEL_PROGRESS_MS) {
        said = performance.now();
        out.event({ event: "waiting", jobId, state, waitedMs: Math.round(waited) });
        if (!out.json)
          out.line(
            `${jobId} ${state}: waiting for it to end (${seconds(waited)} of ${seconds(timeoutMs)})`,
          );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  });
}

export function stop(jobId: string, flags: Record<string, unknown>, out: Output, config: Config) {
  return withCluster(config, async (cluster) => {
    const r = await unwrap(
      cluster.client.jobs[":jobId"].stop.$post({
        param: { jobId },
        json: { savepoint: Boolean(flags.savepoint) },
      }),
    );
    if (out.json) out.event(r);
    else out.line(`${jobId} ${r.state}${r.savepoint ? `, savepoint ${r.savepoint}` : ""}`);
    return EXIT.ok;
  });
}

export function savepoint(
  jobId: string,
  _flags: Record<string, unknown>,
  out: Output,
  config: Config,
) {
  return withCluster(config, async (cluster) => {
    const r = await unwrap(cluster.client.jobs[":jobId"].savepoints.$post({ param: { jobId } }));
    if (out.json) out.event({ jobId, ...r });
    else out.line(r.path);
    return EXIT.ok;
  });
}
