/**
 * How the ResourceManager of a role process gets TaskManagers (resourcemanager.driver): none of
 * its own (static), local processes, or containers through the Docker Engine API; and what each
 * driven TaskManager is told (where the cluster is, shared timings, how to authenticate to NATS).
 */
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { type Config, configEnv, type Logger } from "../core/mod.ts";
import {
  dockerDriver,
  processDriver,
  type ResourceDriver,
  staticDriver,
} from "../resourcemanager/mod.ts";
import { inboxPrefixOf, readSecretFile } from "../security/mod.ts";

/** The flotilla program this process runs (bin/flotilla.js or a bundle): driven TMs run it too. */
const BIN = /\.m?js$/.test(process.argv[1] ?? "")
  ? process.argv[1]!
  : fileURLToPath(new URL("../../bin/flotilla.js", import.meta.url));

/**
 * What a driven TaskManager shares with the ResourceManager that starts it, as the env of those
 * config keys: where the cluster is, how it logs, and the timing both sides of a heartbeat or a
 * call must agree on. (Its id and slot profile the driver adds.)
 */
function sharedWithTaskManagers(config: Config): Record<string, string> {
  return configEnv({
    "nats.url": config["nats.url"],
    "cluster.id": config["cluster.id"],
    "log.level": config["log.level"],
    "heartbeat.interval": config["heartbeat.interval"],
    "heartbeat.timeout": config["heartbeat.timeout"],
    "rpc.timeout": config["rpc.timeout"],
    "rpc.attempt-timeout": config["rpc.attempt-timeout"],
  });
}

/** Where the docker driver puts the TaskManagers' nkey seed in each container it starts. */
const CONTAINER_NKEY_FILE = "/run/secrets/nats-taskmanager.nk";

/**
 * How a driven TaskManager authenticates to NATS, as the env of those config keys (paths, never
 * secrets): with `resourcemanager.taskmanager-nkey-file` as the `taskmanager` user (in a
 * container: where the docker driver copied the seed); else a process on this machine as this
 * process does, and a container without credentials.
 */
function taskManagerNatsEnv(
  config: Config,
  where: "process" | "container",
): Record<string, string> {
  const seed = config["resourcemanager.taskmanager-nkey-file"];
  if (seed)
    return configEnv({
      "nats.nkey-file": where === "container" ? CONTAINER_NKEY_FILE : seed,
      "nats.inbox-prefix": inboxPrefixOf("taskmanager"),
    });
  if (where === "container") return {};
  return configEnv({
    "nats.user": config["nats.user"],
    "nats.password-file": config["nats.password-file"],
    "nats.token-file": config["nats.token-file"],
    "nats.nkey-file": config["nats.nkey-file"],
    "nats.creds-file": config["nats.creds-file"],
    "nats.inbox-prefix": config["nats.inbox-prefix"],
    "nats.tls.ca-file": config["nats.tls.ca-file"],
    "nats.tls.cert-file": config["nats.tls.cert-file"],
    "nats.tls.key-file": config["nats.tls.key-file"],
  });
}

/**
 * The RM's driver: `process` starts `flotilla start taskmanager` children on this machine,
 * `docker` starts TaskManager containers through the Docker Engine API.
 */
export function driverFor(config: Config, log: Logger): ResourceDriver {
  const driver = config["resourcemanager.driver"];
  if (driver === "static") return staticDriver();
  const env = sharedWithTaskManagers(config);
  if (driver === "docker") {
    return dockerDriver({
      clusterId: config["cluster.id"],
      socketPath: config["docker.socket"],
      image: config["docker.taskmanager-image"],
      ...(config["docker.network"] ? { network: config["docker.network"] } : {}),
      ...(config["docker.max-taskmanagers"] > 0
        ? { maxTaskManagers: config["docker.max-taskmanagers"] }
        : {}),
      env: { ...env, ...taskManagerNatsEnv(config, "container") },
      // The seed travels as a file copied into the container, never in its env or labels.
      ...(config["resourcemanager.taskmanager-nkey-file"]
        ? {
            files: [
              {
                path: CONTAINER_NKEY_FILE,
                content: new TextEncoder().encode(
                  `${readSecretFile(config["resourcemanager.taskmanager-nkey-file"], "resourcemanager.taskmanager-nkey-file")}\n`,
                ),
                mode: 0o400,
              },
            ],
          }
        : {}),
      // In a container the hostname is its id: `docker ps --filter label=...` says which RM.
      managedBy: config["cluster.instance-id"] || hostname(),
      log,
    });
  }
  return processDriver({
    command: [process.execPath, BIN, "start", "taskmanager"],
    env: { ...env, ...taskManagerNatsEnv(config, "process") },
    log,
  });
}
