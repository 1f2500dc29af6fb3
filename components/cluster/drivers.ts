/**
 * How the ResourceManager of a role process gets TaskManagers (resourcemanager.driver): none of
 * its own (static), local processes, or containers through the Docker Engine API; and what each
 * driven TaskManager is told (where the cluster is, shared timings, how to authenticate to NATS).
 */
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import { type Config, type ConfigKey, configEnv, type Logger } from "../core/mod.ts";
import {
  type ContainerFile,
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

/**
 * The credentials a ResourceManager hands the TaskManagers it starts: the file of each key below
 * (when set) becomes the TaskManager's own setting (`as`): the path itself for a process on this
 * machine, a copy at `path` for a container (copied in before it starts: in no env, label or
 * `docker inspect`). The CA is the ResourceManager's own, its certificate being no secret.
 */
const HANDED: readonly { key: ConfigKey; as: ConfigKey; path: string }[] = [
  {
    key: "resourcemanager.taskmanager-nkey-file",
    as: "nats.nkey-file",
    path: "/run/secrets/nats-taskmanager.nk",
  },
  {
    key: "resourcemanager.taskmanager-job-nkey-file",
    as: "nats.job-nkey-file",
    path: "/run/secrets/nats-job.nk",
  },
  {
    key: "resourcemanager.taskmanager-tls-cert-file",
    as: "nats.tls.cert-file",
    path: "/run/secrets/tls-taskmanager.crt",
  },
  {
    key: "resourcemanager.taskmanager-tls-key-file",
    as: "nats.tls.key-file",
    path: "/run/secrets/tls-taskmanager.key",
  },
  { key: "nats.tls.ca-file", as: "nats.tls.ca-file", path: "/run/secrets/tls-ca.crt" },
];

/**
 * How a driven TaskManager authenticates to NATS, as the env of those config keys (paths, never
 * secrets): as the `taskmanager` user with the handed files when `resourcemanager.taskmanager-*`
 * are set; else a process on this machine as this process does, and a container without.
 */
function taskManagerNatsEnv(
  config: Config,
  where: "process" | "container",
): Record<string, string> {
  if (config["resourcemanager.taskmanager-nkey-file"]) {
    const env: Record<string, string> = { "nats.inbox-prefix": inboxPrefixOf("taskmanager") };
    for (const h of HANDED)
      if (config[h.key]) env[h.as] = where === "container" ? h.path : String(config[h.key]);
    return configEnv(env as Partial<Record<ConfigKey, string>>);
  }
  if (where === "container") return {};
  return configEnv({
    "nats.user": config["nats.user"],
    "nats.password-file": config["nats.password-file"],
    "nats.token-file": config["nats.token-file"],
    "nats.nkey-file": config["nats.nkey-file"],
    "nats.creds-file": config["nats.creds-file"],
    "nats.job-nkey-file": config["nats.job-nkey-file"],
    "nats.inbox-prefix": config["nats.inbox-prefix"],
    "nats.tls.ca-file": config["nats.tls.ca-file"],
    "nats.tls.cert-file": config["nats.tls.cert-file"],
    "nats.tls.key-file": config["nats.tls.key-file"],
  });
}

/** The handed files a container gets, read once when the driver is made. */
function handedFiles(config: Config): ContainerFile[] {
  if (!config["resourcemanager.taskmanager-nkey-file"]) return [];
  return HANDED.filter((h) => config[h.key]).map((h) => ({
    path: h.path,
    content: new TextEncoder().encode(`${readSecretFile(String(config[h.key]), h.key)}\n`),
    mode: 0o400,
  }));
}

/**
 * The metrics token (`metrics.token-file`), handed to every driven TaskManager whatever NATS
 * takes: its health port's /metrics needs it, and Prometheus scrapes with it. A container gets a
 * copy (copied in like the seeds: in no env value or `docker inspect`), a process the path.
 */
const METRICS_TOKEN_PATH = "/run/secrets/metrics-token";

function taskManagerMetricsEnv(config: Config, where: "process" | "container") {
  const file = config["metrics.token-file"];
  if (!file) return {};
  return configEnv({ "metrics.token-file": where === "container" ? METRICS_TOKEN_PATH : file });
}

function metricsTokenFile(config: Config): ContainerFile[] {
  const file = config["metrics.token-file"];
  if (!file) return [];
  const content = `${readSecretFile(file, "metrics.token-file")}\n`;
  return [{ path: METRICS_TOKEN_PATH, content: new TextEncoder().encode(content), mode: 0o400 }];
}

/** A `*.max-taskmanagers` setting as a driver's cap: 0 is no limit. */
const capOf = (max: number) => (max > 0 ? max : Number.POSITIVE_INFINITY);

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
      maxTaskManagers: capOf(config["docker.max-taskmanagers"]),
      pidsLimit: config["docker.taskmanager-pids-limit"],
      defaultMemoryMb: config["docker.taskmanager-memory-mb"],
      tmpfsMb: config["docker.taskmanager-tmpfs-mb"],
      env: {
        ...env,
        ...taskManagerNatsEnv(config, "container"),
        ...taskManagerMetricsEnv(config, "container"),
      },
      files: [...handedFiles(config), ...metricsTokenFile(config)],
      // In a container the hostname is its id: `docker ps --filter label=...` says which RM.
      managedBy: config["cluster.instance-id"] || hostname(),
      log,
    });
  }
  return processDriver({
    command: [process.execPath, BIN, "start", "taskmanager"],
    env: {
      ...env,
      ...taskManagerNatsEnv(config, "process"),
      ...taskManagerMetricsEnv(config, "process"),
    },
    maxTaskManagers: capOf(config["process.max-taskmanagers"]),
    log,
  });
}
