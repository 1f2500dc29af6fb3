/** `flotilla start <role>`: the container entrypoint. Config from flags, env and file; signals stop it. */
import { EXIT_CODES, ROLES, type Role, startRole } from "../cluster/mod.ts";
import { compileConfig, createLogger, FlotillaError } from "../core/mod.ts";
import { startDockerProxyRole } from "../resourcemanager/mod.ts";
import { EXIT_USAGE, type ProgramIo } from "./io.ts";

export async function startCommand(
  role: string,
  flags: Record<string, unknown>,
  io: ProgramIo,
): Promise<void> {
  // Hidden role: no NATS, no block; the one process of a compose layout with the Docker socket.
  const isProxy = role === "docker-proxy";
  if (!isProxy && !(ROLES as readonly string[]).includes(role)) {
    io.fail(`unknown role '${role}': use one of ${ROLES.join(", ")}`, EXIT_USAGE);
  }
  let config: ReturnType<typeof compileConfig>;
  try {
    config = compileConfig({
      ...(typeof flags.config === "string" ? { file: flags.config } : {}),
      flags: {
        "nats.url": flags.nats,
        "cluster.id": flags.clusterId,
        "rest.port": flags.restPort,
        "taskmanager.slots": flags.slots,
        "job.file": flags.job,
      },
    });
  } catch (err) {
    io.fail((err as Error).message, EXIT_USAGE);
  }
  const log = createLogger({
    level: config["log.level"],
    bindings: { cluster: config["cluster.id"] },
  });
  // Signals are handled from here on: one that arrives while the role starts stops it once up.
  let signaled: string | undefined;
  let stop: (signal: string) => Promise<void> = async (signal) => {
    signaled ??= signal;
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  const running = await (isProxy
    ? startDockerProxyRole(config, log)
    : startRole(role as Role, config, log)
  ).catch((err: Error) =>
    io.fail(`cannot start ${role}: ${err instanceof FlotillaError ? err.message : err.stack}`),
  );
  if (running.outcome) {
    // Job mode: the process ends with the job.
    void running.outcome.then(async (outcome) => {
      log.info({ state: outcome.state, error: outcome.error }, "job ended");
      await running.stop();
      io.exit(EXIT_CODES[outcome.state]);
    });
  }
  let stopping = false;
  stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    await running.stop();
    // Job mode: a stopped job-mode process canceled its job, and says so.
    io.exit(running.outcome ? EXIT_CODES.CANCELED : 0);
  };
  if (signaled) await stop(signaled);
}
