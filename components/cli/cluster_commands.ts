/**
 * `flotilla cluster up|down|ps|logs|secrets --layout <name>` and `run --target compose-job`: the
 * compose layouts driven from Node; `secrets` makes the credentials the layouts mount. `up` waits (with progress) until the REST API answers and the
 * TaskManagers registered; a per-job stack exits with the job's exit code and is removed after.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Config, configEnv, ErrorCode, FlotillaError, JobState } from "../core/mod.ts";
import { configureJobRuntime, type JobPlan } from "../dataflow/internal_mod.ts";
import type { ClusterOverviewWithVersion } from "../protocol/mod.ts";
import { unwrap } from "../rpc/mod.ts";
import {
  CLUSTER_SECRETS,
  credentialsDir,
  ensureClusterSecrets,
  ensureTlsFiles,
} from "../security/mod.ts";
import { remote } from "./cli_config.ts";
import { type ComposeCall, compose, failed } from "./compose.ts";
import type { Flags, Output } from "./io.ts";
import { usage } from "./usage.ts";

function projectOf(flags: Flags, layout: string): string {
  const project = (flags.project as string | undefined) ?? `flotilla-${layout}`;
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(project))
    throw usage(`bad --project ${JSON.stringify(project)}: lower-case letters, digits, - and _`);
  return project;
}

function scaleOf(flags: Flags): number | undefined {
  if (flags.scale === undefined) return undefined;
  const n = Number(flags.scale);
  if (!Number.isInteger(n) || n < 0)
    throw usage(`bad --scale ${JSON.stringify(flags.scale)}: use a whole number >= 0`);
  return n;
}

/**
 * Where a layout is reached from this host: REST, or NATS where the master moves (elastic, and
 * ha, whose standby master may lead and answers on another REST port). The engine is asked where
 * the service's container published the port (which host port that is, FLOTILLA_REST_PORT,
 * FLOTILLA_NATS_PORT, ..., is the compose file's business, not flotilla config): straight from
 * the engine by compose's labels, as `ps` does, which costs a few ms where `compose port` costs a
 * compose start (about a second with Compose v1).
 */
function addressOf({ layout, project, tls }: ComposeCall): string {
  const [service, port, scheme] =
    layout === "elastic" || layout === "ha"
      ? ["nats", 4222, tls ? "tls" : "nats"]
      : [layout === "session" ? "dispatcher" : "master", 8081, tls ? "https" : "http"];
  const docker = (args: string[]) => spawnSync("docker", args, { encoding: "utf8" });
  const listed = docker([
    "ps",
    "-q",
    "--filter",
    `label=com.docker.compose.project=${project}`,
    "--filter",
    `label=com.docker.compose.service=${service}`,
  ]);
  const container = listed.stdout.trim().split("\n")[0];
  const mapped = container ? docker(["port", container, `${port}/tcp`]) : undefined;
  const published = /^(.*):(\d+)$/.exec(mapped?.stdout.trim().split("\n")[0] ?? "");
  if (!published)
    throw new FlotillaError(
      ErrorCode.UNAVAILABLE,
      `cannot find where ${service} of ${project} published port ${port}: ${(mapped ?? listed).stderr.trim() || "no running container"} (flotilla cluster ps --layout ${layout} shows the stack)`,
    );
  // Published on every interface: this host reaches it on its loopback.
  const host = ["0.0.0.0", "::", "[::]"].includes(published[1]!) ? "127.0.0.1" : published[1];
  return `${scheme}://${host}:${published[2]}`;
}

async function waitForCluster(
  address: string,
  taskmanagers: number,
  out: Output,
  config: Config,
): Promise<ClusterOverviewWithVersion> {
  const cluster = remote(config, address);
  const deadline = Date.now() + 120_000;
  let said = "";
  try {
    for (;;) {
      const overview = await unwrap(cluster.client.overview.$get()).catch(() => undefined);
      const registered = overview?.taskmanagers ?? -1;
      const line =
        registered < 0
          ? `waiting for ${address}`
          : `${registered}/${taskmanagers} TaskManagers registered`;
      if (line !== said && !out.json) out.line(line);
      said = line;
      if (overview && registered >= taskmanagers) return overview;
      if (Date.now() > deadline)
        throw new FlotillaError(
          ErrorCode.TIMEOUT,
          `the cluster did not come up within 120 s (${line}): see flotilla cluster logs`,
        );
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await cluster.close();
  }
}

export async function clusterCommand(
  action: string,
  flags: Flags,
  out: Output,
  config: Config,
): Promise<number> {
  const layout = (flags.layout as string | undefined) ?? "standalone";
  if (layout === "job" && action === "up")
    throw usage("the job layout runs one job: use flotilla run <job> --target compose-job");
  const project = projectOf(flags, layout);
  // Where the compose files find the cluster's secrets (their default is ~/.flotilla/default).
  const credentials = credentialsDir(config);
  const tls = flags.tls === true;
  const call = { layout, project, tls, env: { FLOTILLA_CREDENTIALS_DIR: credentials } };
  switch (action) {
    case "secrets": {
      const secrets = ensureClusterSecrets(credentials, {
        clusterId: config["cluster.id"],
        rotate: flags.rotate === true,
      });
      if (tls)
        secrets.generated.push(...ensureTlsFiles(credentials, { rotate: flags.rotate === true }));
      if (out.json) out.event(secrets);
      else {
        out.line(
          secrets.generated.length
            ? `generated ${secrets.generated.join(", ")} in ${secrets.dir}`
            : `${secrets.dir} has every secret already (--rotate makes new ones)`,
        );
        for (const [name, file] of Object.entries(secrets.files))
          out.line(`  ${file}: ${CLUSTER_SECRETS[name]}`);
        if (flags.rotate === true)
          out.line(
            "running stacks read them at start: docker compose ... up -d --force-recreate takes the new ones",
          );
      }
      return 0;
    }
    case "up": {
      const secrets = ensureClusterSecrets(credentials, { clusterId: config["cluster.id"] });
      if (tls) secrets.generated.push(...ensureTlsFiles(credentials));
      if (!out.json && secrets.generated.length)
        out.line(`generated ${secrets.generated.join(", ")} in ${secrets.dir}`);
      // elastic scales its identical nodes (one becomes the master); the others their TMs.
      const service = layout === "elastic" ? "node" : "taskmanager";
      const scale = scaleOf(flags) ?? (layout === "session" ? 0 : layout === "elastic" ? 3 : 2);
      if (!out.json) out.line(`starting ${layout} as project ${project}`);
      const result = await compose(
        call,
        (c, o) => c.upAll({ ...o, commandOptions: [["--scale", `${service}=${scale}`]] }), // upAll adds -d
      );
      if (result.exitCode !== 0) throw failed("compose up", result);
      const url = addressOf(call);
      const overview = await waitForCluster(
        url,
        layout === "elastic" ? scale - 1 : scale,
        out,
        config,
      );
      if (out.json) out.event({ layout, project, cluster: url, rest: url, overview });
      else out.line(`up: ${url} (flotilla run <job> --cluster ${url})`);
      return 0;
    }
    case "down": {
      const result = await downStack(call);
      if (result.exitCode !== 0) throw failed("compose down", result);
      if (out.json) out.event({ layout, project, down: true });
      else out.line(`${project} down`);
      return 0;
    }
    case "ps": {
      // Straight from the engine by compose's labels: the same for Compose v1 and v2.
      const listed = spawnSync(
        "docker",
        [
          "ps",
          "-a",
          "--filter",
          `label=com.docker.compose.project=${project}`,
          "--format",
          "{{json .}}",
        ],
        { encoding: "utf8" },
      );
      if (listed.status !== 0)
        throw new FlotillaError(ErrorCode.UNAVAILABLE, `docker ps failed: ${listed.stderr.trim()}`);
      const services = listed.stdout
        .split("\n")
        .filter(Boolean)
        .map(
          (line) =>
            JSON.parse(line) as { Names: string; State?: string; Status: string; Ports: string },
        )
        .map((c) => ({ name: c.Names, status: c.Status, ports: c.Ports }))
        .sort((a, b) => a.name.localeCompare(b.name));
      if (out.json) out.event({ layout, project, services });
      else if (services.length === 0) out.line(`${project}: no containers`);
      else
        for (const s of services)
          out.line(`${s.name.padEnd(36)} ${s.status.padEnd(28)} ${s.ports}`);
      return 0;
    }
    case "logs": {
      const result = await compose(call, (c, o) =>
        c.logs([], {
          ...o,
          ...(out.json ? {} : { callback: (chunk) => process.stdout.write(chunk) }),
        }),
      );
      if (out.json) out.event({ layout, project, logs: result.out });
      return result.exitCode === 0 ? 0 : 1;
    }
    default:
      throw usage(`unknown cluster action '${action}': use up, down, ps, logs or secrets`);
  }
}

/** `down -v --remove-orphans`: the stack's containers, network and volumes go. */
function downStack(call: ComposeCall) {
  return compose(call, (c, o) => c.downAll({ ...o, commandOptions: ["-v", "--remove-orphans"] }));
}

/** Slots a job needs: per slot-sharing group, its largest vertex's parallelism. */
function slotsNeeded(plan: {
  vertices: { parallelism: number; slotSharingGroup: string }[];
}): number {
  const groups = new Map<string, number>();
  for (const v of plan.vertices)
    groups.set(v.slotSharingGroup, Math.max(groups.get(v.slotSharingGroup) ?? 0, v.parallelism));
  return [...groups.values()].reduce((a, b) => a + b, 0);
}

/** A loaded job, as far as a compose stack needs it: its plan for these arguments. */
interface PlannedJob {
  graph(input: { args: Record<string, string>; parallelism?: number }): { plan(): JobPlan };
}

/**
 * The job as its own compose stack (compose/job.yml): bundle, mount the artifact, `up
 * --exit-code-from jobmanager`, then remove the stack. Returns the job's exit code.
 */
export async function runComposeJob(
  bytes: Uint8Array,
  job: PlannedJob,
  {
    args,
    parallelism,
    flags,
    out,
    config,
  }: {
    args: Record<string, string>;
    parallelism?: number;
    flags: Flags;
    out: Output;
    config: Config;
  },
): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "flotilla-job-"));
  const project = projectOf(flags, `job-${Date.now().toString(36)}`);
  const keep = flags.keep === true;
  let call: ComposeCall | undefined;
  // ^C or a kill while the stack runs: take it down before leaving (unless --keep).
  const interrupted = (signal: NodeJS.Signals) => {
    if (!out.json) out.line(`${signal}: removing stack ${project}`);
    const started = call;
    const removed = started && !keep ? downStack(started) : Promise.resolve();
    void removed
      .finally(() => rm(dir, { recursive: true, force: true }))
      .finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    const stack = await prepareStack(dir, bytes, job, { args, parallelism, flags, out, config });
    call = { layout: "job", project, ...stack.call };
    out.event({ event: "stack", project, taskmanagers: stack.taskmanagers, slots: stack.slots });
    if (!out.json)
      out.line(`per-job stack ${project}: jobmanager + ${stack.taskmanagers} TaskManagers`);
    const result = await compose(call, (c, o) =>
      c.upAll({
        ...o,
        commandOptions: [
          "--exit-code-from",
          "jobmanager",
          ["--scale", `taskmanager=${stack.taskmanagers}`],
        ],
      }),
    );
    const code = result.exitCode ?? 1;
    const state = code === 0 ? JobState.FINISHED : code === 2 ? JobState.CANCELED : JobState.FAILED;
    out.event({ event: "ended", project, state, exitCode: code });
    if (!out.json) out.line(`job ${state} (exit ${code})`);
    return code;
  } finally {
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    if (keep && call) {
      if (!out.json) out.line(`kept: flotilla cluster logs|down --layout job --project ${project}`);
    } else {
      if (call) await downStack(call);
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** The stack's inputs in `dir`: artifact, the secret's view for the host-side plan, sizes, env. */
async function prepareStack(
  dir: string,
  bytes: Uint8Array,
  job: PlannedJob,
  {
    args,
    parallelism,
    flags,
    out,
    config,
  }: {
    args: Record<string, string>;
    parallelism?: number | undefined;
    flags: Flags;
    out: Output;
    config: Config;
  },
): Promise<{ taskmanagers: number; slots: number; call: Omit<ComposeCall, "layout" | "project"> }> {
  // The graph is built here too (for the plan): it sees the secret the stack will get, through a
  // link to the same file (an empty one when there is none, like compose's /dev/null default).
  const secrets = join(dir, "secrets");
  await mkdir(secrets);
  const secretFile = config["job.secret-file"] ? resolve(config["job.secret-file"]) : "";
  if (secretFile) await symlink(secretFile, join(secrets, "job"));
  else await writeFile(join(secrets, "job"), "");
  configureJobRuntime({ ...config, "secrets.dir": secrets });
  const plan = job.graph({ args, ...(parallelism ? { parallelism } : {}) }).plan();
  const slots = slotsNeeded(plan);
  const perTaskManager = config["taskmanager.slots"];
  const taskmanagers = scaleOf(flags) ?? Math.max(1, Math.ceil(slots / perTaskManager));
  const artifact = join(dir, "job.mjs");
  await writeFile(artifact, bytes);
  // The stack's NATS users: the cluster's credentials, as for the other layouts.
  const credentials = ensureClusterSecrets(credentialsDir(config), {
    clusterId: config["cluster.id"],
  });
  // --tls: compose/job-tls.yml, NATS on mutual TLS with the certificates made beside the users.
  const tls = flags.tls === true;
  if (tls) ensureTlsFiles(credentials.dir);
  return {
    taskmanagers,
    slots,
    call: {
      tls,
      // job.yml reads these config keys' variables: its TaskManagers get the slots the stack was
      // sized by, its job the same secret file, the arguments and the parallelism.
      env: {
        ...configEnv({
          "taskmanager.slots": perTaskManager,
          ...(secretFile ? { "job.secret-file": secretFile } : {}),
          "job.args": Object.entries(args)
            .map(([k, v]) => `${k}=${v}`)
            .join(","),
          "job.parallelism": parallelism ?? 0,
        }),
        FLOTILLA_JOB_ARTIFACT: artifact,
        FLOTILLA_CLUSTER_ID: config["cluster.id"],
        FLOTILLA_CREDENTIALS_DIR: credentials.dir,
      },
      onOutput: (chunk: string) => followJobManager(chunk, out),
    },
  };
}

/** The jobmanager's structured log lines in compose's output, as progress lines or events. */
function followJobManager(chunk: string, out: Output): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: compose's colour codes
  for (const line of chunk.replace(/\x1b\[[0-9;]*m/g, "").split("\n")) {
    // "<project>_jobmanager_1  | {...}" (v1) or "jobmanager-1  | {...}" (v2)
    const m = /^(\S*jobmanager\S*)\s+\|\s+(\{.*\})\s*$/.exec(line);
    if (!m) continue;
    try {
      const entry = JSON.parse(m[2]!) as { msg?: string; state?: string; level?: number };
      if (out.json) out.event({ event: "log", service: m[1], ...entry });
      // People see the job's states, its start and end, and what went wrong (warn and above).
      else if (
        entry.msg &&
        (entry.state || (entry.level ?? 0) >= 40 || /^job mode/.test(entry.msg))
      )
        out.line(`jobmanager: ${entry.msg}${entry.state ? ` (${entry.state})` : ""}`);
    } catch {}
  }
}
