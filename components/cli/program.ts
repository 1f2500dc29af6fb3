/**
 * The `flotilla` command line, defined once: commands, options, help examples. Actions import
 * their code lazily so `flotilla version` or `--help` do not load the cluster. `main.ts` parses
 * argv with this program; `scripts/cli-docs.ts` renders its help into the README.
 */
import { type CAC, cac } from "cac";
import pkg from "../../package.json" with { type: "json" };
import { EXIT_USAGE, type Flags, type ProgramIo } from "./io.ts";

/** The roles of `flotilla start` (kept here so help does not load the cluster code). */
export const ROLE_NAMES = [
  "master",
  "auto",
  "dispatcher",
  "resourcemanager",
  "taskmanager",
  "jobmanager",
  "mini",
] as const;

export function version(): string {
  return pkg.version;
}

type CommandName =
  | "run"
  | "bundleCommand"
  | "clusterCommand"
  | "plan"
  | "list"
  | "status"
  | "cancel"
  | "stop"
  | "savepoint";

export function program(io: ProgramIo): CAC {
  const cli = cac("flotilla");
  const { out } = io;

  /**
   * Runs a job command with the config compiled from its flags (the last of cac's arguments):
   * typed errors become one line (a stack only with --verbose) and a code.
   */
  const command =
    (name: CommandName) =>
    async (...args: unknown[]): Promise<void> => {
      try {
        const { configureCli } = await import("./cli_config.ts");
        const config = configureCli(args.at(-1) as Flags);
        const commands = {
          ...(await import("./commands.ts")),
          ...(name === "clusterCommand" ? await import("./cluster_commands.ts") : {}),
          ...(name === "cancel" || name === "stop" || name === "savepoint"
            ? await import("./job_control.ts")
            : {}),
        };
        const fn = commands[name] as (...a: unknown[]) => Promise<number>;
        io.exit(await fn(...args, out, config));
      } catch (err) {
        const usageError = (err as { usage?: boolean }).usage === true;
        const message = (err as Error).message;
        if (out.json)
          out.event({ error: { code: (err as { code?: string }).code ?? "INTERNAL", message } });
        else process.stderr.write(`flotilla: ${message}\n`);
        if (io.verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
        io.exit(usageError ? EXIT_USAGE : 1);
      }
    };

  const outputOptions = (c: ReturnType<typeof cli.command>) =>
    c
      .option("--json", "Machine-readable output: one JSON value per line")
      .option("--verbose", "Stack traces on errors");
  const clusterOptions = (c: ReturnType<typeof cli.command>) =>
    outputOptions(
      c
        .option(
          "--cluster <address>",
          "Cluster address: http://host:8081 (REST) or nats://host:4222 (cluster.address)",
        )
        .option(
          "--cluster-id <id>",
          "With a nats:// address: the cluster's id (cluster.id; default: default)",
        )
        .option(
          "--token-file <file>",
          "File of the REST token to send (rest.token-file; default: the one a cluster on this machine generated)",
        ),
    );

  cli
    .command("start <role>", `Start a cluster role in this process: ${ROLE_NAMES.join(", ")}.`)
    .option("--config <file>", "JSON config file (also FLOTILLA_CONFIG)")
    .option("--nats <url>", "NATS server(s), comma-separated (nats.url)")
    .option("--cluster-id <id>", "Cluster id (cluster.id)")
    .option("--rest-port <port>", "REST port of the dispatcher (rest.port)")
    .option("--slots <n>", "Slots of a TaskManager (taskmanager.slots)")
    .option("--job <file>", "Job mode: the job module the jobmanager runs (job.file)")
    .example("flotilla start master --nats nats://nats:4222")
    .example("flotilla start taskmanager --nats nats://nats:4222 --slots 4")
    .example("flotilla start mini --rest-port 8081   # every block in this process, no NATS")
    .action(async (role: string, flags: Flags) => {
      const { startCommand } = await import("./start.ts");
      await startCommand(role, flags, io);
    });

  clusterOptions(
    cli
      .command("run <job>", "Bundle a job module, run it, follow it and print its results.")
      .option(
        "--target <target>",
        "local (an embedded MiniCluster), remote, or compose-job (its own compose stack; exits with the job) (default: remote when a cluster is given, else local)",
      )
      .option("--parallelism <n>", "Default parallelism of the job's operators")
      .option("--arg <key=value>", "A job argument; repeat for more")
      .option(
        "--secret <name=file>",
        "A secret of this job only, read from a file (env.secret(name) in its code); repeat for more",
      )
      .option("--detached", "Submit, print the job id and return (remote only)")
      .option(
        "--scale <n>",
        "compose-job: TaskManager containers (default: as many as the job's slots need)",
      )
      .option("--project <name>", "compose-job: the stack's compose project name")
      .option(
        "--keep",
        "compose-job: keep the ended stack (logs, inspect); cluster down removes it",
      )
      .option("--tls", "compose-job: NATS on mutual TLS (compose/job-tls.yml)")
      .option("--from-savepoint <path>", "Start from a savepoint")
      .example("flotilla run examples/wordcount.ts")
      .example("flotilla run examples/sequence-check.ts --arg keys=8 --parallelism 4 --json")
      .example("flotilla run examples/wordcount.ts --cluster http://localhost:8081 --detached")
      .example(
        "flotilla run job.ts --cluster http://localhost:8081 --secret db-password=./db-password.txt",
      )
      .example(
        "flotilla run examples/sequence-check.ts --target compose-job   # exit code = result",
      ),
  ).action(command("run"));

  outputOptions(
    cli
      .command("bundle <job>", "Bundle a job into its artifact file, named by its sha256.")
      .option("--out <file>", "Where to write it (default: <first 12 hex digits>.mjs here)")
      .example("flotilla bundle examples/sequence-check.ts --out job.mjs")
      .example("FLOTILLA_JOB_FILE=job.mjs flotilla start jobmanager   # job mode runs it as is"),
  ).action(command("bundleCommand"));

  outputOptions(
    cli
      .command("plan <job>", "Print the job graph: vertices, parallelism, edges, slot sharing.")
      .option("--parallelism <n>", "Default parallelism of the job's operators")
      .option("--arg <key=value>", "A job argument; repeat for more")
      .example("flotilla plan examples/wordcount.ts")
      .example("flotilla plan examples/sequence-check.ts --parallelism 4 --json"),
  ).action(command("plan"));

  clusterOptions(
    cli
      .command("list", "List the cluster's jobs.")
      .example("flotilla list --cluster http://localhost:8081")
      .example("FLOTILLA_CLUSTER_ADDRESS=nats://localhost:4222 flotilla list --json"),
  ).action(command("list"));

  clusterOptions(
    cli
      .command("status <jobId>", "Show a job's state, tasks, records and checkpoints.")
      .example("flotilla status 5f1c8e0d2a9b4c7e8f6a1b2c3d4e5f60 --cluster http://localhost:8081")
      .example("flotilla status 5f1c8e0d2a9b4c7e8f6a1b2c3d4e5f60 --json"),
  ).action(command("status"));

  clusterOptions(
    cli
      .command("cancel <jobId>", "Cancel a job and wait until it is canceled.")
      .option(
        "--timeout <duration>",
        "How long to wait for the job to end, e.g. 90s or 2m (client.cancel-timeout; default: 60s)",
      )
      .example("flotilla cancel 5f1c8e0d2a9b4c7e8f6a1b2c3d4e5f60 --cluster http://localhost:8081")
      .example("flotilla cancel 5f1c8e0d2a9b4c7e8f6a1b2c3d4e5f60 --timeout 5m --json"),
  ).action(command("cancel"));

  clusterOptions(
    cli
      .command("stop <jobId>", "Stop a job; with --savepoint take a savepoint first.")
      .option("--savepoint", "Take a savepoint first and print its path")
      .example("flotilla stop 5f1c8e0d2a9b4c7e8f6a1b2c3d4e5f60 --savepoint --json")
      .example("flotilla stop 5f1c8e0d2a9b4c7e8f6a1b2c3d4e5f60   # no savepoint: like cancel"),
  ).action(command("stop"));

  clusterOptions(
    cli
      .command("savepoint <jobId>", "Take a savepoint of a running job; prints its path.")
      .example(
        "flotilla savepoint 5f1c8e0d2a9b4c7e8f6a1b2c3d4e5f60 --cluster http://localhost:8081",
      ),
  ).action(command("savepoint"));

  outputOptions(
    cli
      .command(
        "cluster <action>",
        "Run a compose layout: up (waits until ready), down, ps, logs; secrets makes the credentials the layouts mount (up does it too). Needs Docker Compose v2 or v1.",
      )
      .option("--rotate", "secrets: replace every secret with a new one")
      .option(
        "--tls",
        "up, secrets: TLS for NATS (mutual) and HTTPS for REST (compose/<layout>-tls.yml)",
      )
      .option("--layout <name>", "standalone, session, job, elastic or ha (default: standalone)")
      .option(
        "--scale <n>",
        "up: TaskManager containers (default: 2 standalone and ha, 0 session); elastic: nodes (3)",
      )
      .option("--project <name>", "Compose project name (default: flotilla-<layout>)")
      .example("flotilla cluster up --layout standalone --scale 3")
      .example("flotilla cluster ps --layout standalone --json")
      .example(
        "flotilla cluster up --layout elastic --scale 4   # then --cluster nats://127.0.0.1:4222",
      )
      .example("flotilla cluster up --layout ha         # standby master; reach it over NATS too")
      .example("flotilla cluster down --layout standalone")
      .example("flotilla cluster secrets   # before docker compose -f compose/<layout>.yml up")
      .example(
        "flotilla cluster up --layout standalone --tls   # then --cluster https://127.0.0.1:8081",
      ),
  ).action(command("clusterCommand"));

  cli
    .command("version", "Print the version.")
    .example("flotilla version")
    .action(() => {
      out.line(version());
    });

  cli.help();
  cli.version(version());
  return cli;
}
