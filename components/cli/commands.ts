/**
 * The job commands: run (bundle, upload, submit, follow, print results), plan, list, status
 * (cancel, stop and savepoint are in job_control.ts). Every command prints one line per fact for
 * people, or JSON with --json: what Flink's REST API answered, in its field names.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Config, ErrorCode, FlotillaError, isJobEnd, JobState } from "../core/mod.ts";
import { bundleJob, loadArtifact } from "../dataflow/internal_mod.ts";
import type { JobDetailsInfo } from "../protocol/mod.ts";
import { unwrap } from "../rpc/mod.ts";
import { remote } from "./cli_config.ts";
import { localCluster } from "./cluster_api.ts";
import { EXIT, type Output } from "./io.ts";
import { detailsOf, throughFailover, withCluster } from "./job_reads.ts";
import { usage } from "./usage.ts";

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
function describe(d: JobDetailsInfo, records = true): string {
  const extras = d.flotilla;
  const vertices = d.vertices.map((v) => {
    // Flink's status counts name every state; the line names those with tasks in them.
    const tasks =
      Object.entries(v.tasks)
        .filter(([, n]) => n > 0)
        .map(([s, n]) => `${n} ${s}`)
        .join(", ") || "-";
    const io = records
      ? ` (in ${count(v.metrics["read-records"])}, out ${count(v.metrics["write-records"])})`
      : "";
    // Adaptive jobs change parallelism: show it and its bounds (the tasks count says it otherwise).
    const b = v.flotilla.parallelismBounds;
    const p =
      extras.scheduler && extras.scheduler !== "default"
        ? ` x${v.parallelism}${b ? ` [${b.lowerBound}..${b.upperBound}]` : ""}`
        : "";
    return `${v.name}${p} ${tasks}${io}`;
  });
  const cp =
    records && extras.lastCheckpoint
      ? `, checkpoint ${extras.lastCheckpoint.id} ${((Date.now() - extras.lastCheckpoint.timestamp) / 1000).toFixed(0)} s ago`
      : extras.checkpoints
        ? `, ${extras.checkpoints} checkpoints`
        : "";
  return `${d.state}${extras.restarts ? `, ${extras.restarts} restarts` : ""}${extras.rescales ? `, ${extras.rescales} rescales` : ""}${cp}${vertices.length ? ` | ${vertices.join(" | ")}` : ""}${extras.waitingFor ? ` | ${extras.waitingFor}` : ""}`;
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
    let details: JobDetailsInfo;
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
        // Flink's fields of the job's details, without the plan and the timestamps.
        out.event({
          event: "status",
          jid: details.jid,
          state: details.state,
          vertices: details.vertices.map(({ id, name, parallelism, status, tasks, metrics }) => ({
            id,
            name,
            parallelism,
            status,
            tasks,
            metrics,
          })),
          flotilla: details.flotilla,
        });
        if (!out.json && !tty) out.line(describe(details));
      }
      if (isJobEnd(details.state)) break;
      // Short jobs end within a few polls; long ones are not polled more than 4 times a second.
      await new Promise((r) => setTimeout(r, Math.min(10 * 2 ** polls++, 250)));
    }
    if (tty) process.stdout.write("\n");
    const results = await throughFailover(
      () => unwrap(cluster.client.jobs[":jobid"].results.$get({ param: { jobid: jobId } })),
      out,
    );
    const { error } = details.flotilla;
    if (out.json) out.event({ event: "ended", jid: jobId, state: details.state, error, results });
    else {
      for (const [sink, values] of Object.entries(results)) {
        out.line(`${sink}: ${values.length} results`);
        for (const value of values) out.line(`  ${JSON.stringify(value)}`);
      }
      out.line(`${jobId} ${details.state}${error ? `: ${error.message}` : ""}`);
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

export function list(_flags: Record<string, unknown>, out: Output, config: Config) {
  return withCluster(config, async (cluster) => {
    const jobs = await cluster.jobs();
    if (out.json) out.event({ jobs });
    else if (jobs.length === 0) out.line("no jobs");
    else for (const j of jobs) out.line(`${j.jid}  ${j.state.padEnd(10)}  ${j.name}`);
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
