/**
 * The `flotilla` command line. `start <role>` is the container entrypoint of every cluster role;
 * the job commands (run, list, cancel, ...) arrive with the CLI issue.
 */
import { readFileSync } from "node:fs";
import { cac } from "cac";
import { EXIT_CODES } from "../cluster/job_mode.ts";
import { ROLES, type Role, startRole } from "../cluster/roles.ts";
import { compileConfig, createLogger, FlotillaError } from "../core/mod.ts";
import { cancel, list, type Output, plan, run, savepoint, status, stop } from "./commands.ts";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};
const EXIT_USAGE = 64;

function fail(message: string, code = 1): never {
  process.stderr.write(`flotilla: ${message}\n`);
  process.exit(code);
}

const cli = cac("flotilla");

cli
  .command("start <role>", `Start a cluster role in this process: ${ROLES.join(", ")}`)
  .option("--config <file>", "JSON config file (also FLOTILLA_CONFIG)")
  .option("--nats <url>", "NATS server(s), comma-separated (nats.url)")
  .option("--cluster <id>", "Cluster id (cluster.id)")
  .option("--rest-port <port>", "REST port of the dispatcher (rest.port)")
  .option("--slots <n>", "Slots of a TaskManager (taskmanager.slots)")
  .option("--job <file>", "Job mode: the job module the jobmanager runs (job.file)")
  .example("flotilla start master --nats nats://nats:4222")
  .example("flotilla start taskmanager --slots 4")
  .action(async (role: string, flags: Record<string, unknown>) => {
    if (!(ROLES as readonly string[]).includes(role)) {
      fail(`unknown role '${role}': use one of ${ROLES.join(", ")}`, EXIT_USAGE);
    }
    let config: ReturnType<typeof compileConfig>;
    try {
      config = compileConfig({
        ...(typeof flags.config === "string" ? { file: flags.config } : {}),
        flags: {
          "nats.url": flags.nats,
          "cluster.id": flags.cluster,
          "rest.port": flags.restPort,
          "taskmanager.slots": flags.slots,
          "job.file": flags.job,
        },
      });
    } catch (err) {
      fail((err as Error).message, EXIT_USAGE);
    }
    const log = createLogger({
      level: config["log.level"],
      bindings: { cluster: config["cluster.id"] },
    });
    const running = await startRole(role as Role, config, log).catch((err: Error) =>
      fail(`cannot start ${role}: ${err instanceof FlotillaError ? err.message : err.stack}`),
    );
    if (running.outcome) {
      // Job mode: the process ends with the job.
      void running.outcome.then(async (outcome) => {
        log.info({ state: outcome.state, error: outcome.error }, "job ended");
        await running.stop();
        process.exit(EXIT_CODES[outcome.state]);
      });
    }
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "stopping");
      await running.stop();
      process.exit(0);
    };
    process.on("SIGTERM", () => void stop("SIGTERM"));
    process.on("SIGINT", () => void stop("SIGINT"));
  });

const out: Output = {
  json: process.argv.includes("--json"),
  line: (text) => process.stdout.write(`${text}\n`),
  event: (value) => process.stdout.write(`${JSON.stringify(value)}\n`),
};
const verbose = process.argv.includes("--verbose");

/** Runs a job command: typed errors become one line (a stack only with --verbose) and an exit code. */
function command(fn: (...args: any[]) => Promise<number>) {
  return async (...args: unknown[]) => {
    try {
      process.exit(await fn(...args));
    } catch (err) {
      const usageError = (err as { usage?: boolean }).usage === true;
      const message =
        err instanceof FlotillaError
          ? err.message
          : verbose
            ? (err as Error).stack
            : (err as Error).message;
      if (out.json)
        out.event({ error: { code: (err as FlotillaError).code ?? "INTERNAL", message } });
      else process.stderr.write(`flotilla: ${message}\n`);
      if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
      process.exit(usageError ? EXIT_USAGE : 1);
    }
  };
}

const withCluster = (c: ReturnType<typeof cli.command>) =>
  c
    .option("--cluster <url>", "Cluster REST address (or FLOTILLA_CLUSTER)")
    .option("--json", "Machine-readable output")
    .option("--verbose", "Stack traces on errors");

withCluster(
  cli
    .command("run <job>", "Bundle a job module, run it, follow it and print its results")
    .option(
      "--target <target>",
      "local (an embedded MiniCluster) or remote; default remote when a cluster is given",
    )
    .option("--parallelism <n>", "Default parallelism of the job's operators")
    .option("--arg <key=value>", "A job argument; repeat for more")
    .option("--detached", "Submit and return the job id (remote only)")
    .option("--from-savepoint <path>", "Start from a savepoint")
    .example("flotilla run examples/wordcount.ts")
    .example(
      "flotilla run examples/sequence-check.ts --cluster http://localhost:8081 --arg keys=8 --parallelism 4",
    ),
).action(command((file: string, flags: Record<string, unknown>) => run(file, flags, out)));

withCluster(
  cli
    .command("plan <job>", "Print the job graph: vertices, parallelism, edges, slot-sharing groups")
    .option("--parallelism <n>", "Default parallelism")
    .option("--arg <key=value>", "A job argument; repeat for more")
    .example("flotilla plan examples/wordcount.ts --json"),
).action(command((file: string, flags: Record<string, unknown>) => plan(file, flags, out)));

withCluster(
  cli
    .command("list", "List the cluster's jobs")
    .example("flotilla list --cluster http://localhost:8081"),
).action(command((flags: Record<string, unknown>) => list(flags, out)));
withCluster(cli.command("status <jobId>", "Show a job's state, tasks and checkpoints")).action(
  command((jobId: string, flags: Record<string, unknown>) => status(jobId, flags, out)),
);
withCluster(cli.command("cancel <jobId>", "Cancel a job and wait until it is canceled")).action(
  command((jobId: string, flags: Record<string, unknown>) => cancel(jobId, flags, out)),
);
withCluster(
  cli
    .command("stop <jobId>", "Stop a job (with --savepoint: take one first)")
    .option("--savepoint", "Take a savepoint first"),
).action(command((jobId: string, flags: Record<string, unknown>) => stop(jobId, flags, out)));
withCluster(
  cli.command("savepoint <jobId>", "Take a savepoint of a running job; prints its path"),
).action(command((jobId: string, flags: Record<string, unknown>) => savepoint(jobId, flags, out)));

cli.command("version", "Print the version").action(() => {
  console.log(pkg.version);
});

cli.help();
cli.version(pkg.version);
try {
  cli.parse(process.argv, { run: false });
  if (!cli.matchedCommand && cli.args.length > 0)
    fail(`unknown command '${cli.args[0]}': see flotilla --help`, EXIT_USAGE);
  if (
    !cli.matchedCommand &&
    !process.argv
      .slice(2)
      .some((a) => a === "--help" || a === "-h" || a === "--version" || a === "-v")
  ) {
    cli.outputHelp();
  }
  await cli.runMatchedCommand();
} catch (err) {
  fail((err as Error).message, EXIT_USAGE);
}
