/**
 * The `flotilla` command line. `start <role>` is the container entrypoint of every cluster role;
 * the job commands (run, list, cancel, ...) arrive with the CLI issue.
 */
import { readFileSync } from "node:fs";
import { cac } from "cac";
import { EXIT_CODES } from "../cluster/job_mode.ts";
import { ROLES, type Role, startRole } from "../cluster/roles.ts";
import { compileConfig, createLogger, FlotillaError } from "../core/mod.ts";

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
