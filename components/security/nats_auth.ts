/**
 * How this process connects to NATS, from its configuration: the servers, one way to
 * authenticate (user and password, token, nkey seed or credentials file, each read from a file),
 * TLS, and the prefix its replies come back on. Every connection a role or the CLI makes to the
 * cluster's NATS takes these; a job's connection to another server does not, and job code's
 * connection to the cluster's NATS is the `job` user's (`jobNatsConnectOptions`).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  type Authenticator,
  type ConnectionOptions,
  connect,
  credsAuthenticator,
  type NatsConnection,
  nkeyAuthenticator,
  nkeys,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
} from "@nats-io/transport-node";
import { type Config, type ConfigKey, InvalidConfigError } from "../core/mod.ts";
import { nkeyFileOf } from "./cluster_secrets.ts";
import { inboxPrefixOf } from "./nats_users.ts";
import { clientCertOf, clientKeyOf, TLS_FILES } from "./tls_certs.ts";
import { credentialsDir } from "./tokens.ts";

const MAX_SECRET_BYTES = 64 * 1024;

/** The trimmed content of the secret file `path` (config key `configKey`), never in an error. */
export function readSecretFile(path: string, configKey: ConfigKey): string {
  let text: string;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new Error("not a regular file");
    if (stat.size > MAX_SECRET_BYTES) throw new Error(`larger than ${MAX_SECRET_BYTES} bytes`);
    text = readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new InvalidConfigError(
      configKey,
      `cannot read ${path} (config key '${configKey}'): ${(err as Error).message}`,
    );
  }
  if (!text)
    throw new InvalidConfigError(configKey, `${path} (config key '${configKey}') is empty`);
  return text;
}

function nkeySeed(path: string, configKey: ConfigKey = "nats.nkey-file"): Uint8Array {
  const seed = new TextEncoder().encode(readSecretFile(path, configKey));
  try {
    nkeys.fromSeed(seed).getPublicKey();
  } catch {
    throw new InvalidConfigError(
      configKey,
      `${path} (config key '${configKey}') does not hold an nkey seed (a line starting with SU)`,
    );
  }
  return seed;
}

export type NatsConnectOptions = Pick<
  ConnectionOptions,
  "servers" | "authenticator" | "tls" | "inboxPrefix"
>;

/** The options every connection to the cluster's NATS takes; `servers` defaults to `nats.url`. */
export function natsConnectOptions(config: Config, servers?: string): NatsConnectOptions {
  const ways: [ConfigKey, () => Authenticator][] = [];
  if (config["nats.user"] || config["nats.password-file"]) {
    if (!config["nats.user"] || !config["nats.password-file"])
      throw new InvalidConfigError(
        config["nats.user"] ? "nats.password-file" : "nats.user",
        "nats.user and nats.password-file go together",
      );
    ways.push([
      "nats.user",
      () =>
        usernamePasswordAuthenticator(
          config["nats.user"],
          readSecretFile(config["nats.password-file"], "nats.password-file"),
        ),
    ]);
  }
  if (config["nats.token-file"])
    ways.push([
      "nats.token-file",
      () => tokenAuthenticator(readSecretFile(config["nats.token-file"], "nats.token-file")),
    ]);
  if (config["nats.nkey-file"])
    ways.push(["nats.nkey-file", () => nkeyAuthenticator(nkeySeed(config["nats.nkey-file"]))]);
  if (config["nats.creds-file"])
    ways.push([
      "nats.creds-file",
      () =>
        credsAuthenticator(
          new TextEncoder().encode(readSecretFile(config["nats.creds-file"], "nats.creds-file")),
        ),
    ]);
  if (ways.length > 1)
    throw new InvalidConfigError(
      ways[1]![0],
      `one way to authenticate to NATS, not ${ways.length}: ${ways.map(([k]) => k).join(", ")}`,
    );
  const ca = config["nats.tls.ca-file"];
  const cert = config["nats.tls.cert-file"];
  const key = config["nats.tls.key-file"];
  if (Boolean(cert) !== Boolean(key))
    throw new InvalidConfigError(
      cert ? "nats.tls.key-file" : "nats.tls.cert-file",
      "nats.tls.cert-file and nats.tls.key-file go together",
    );
  for (const [k, file] of [
    ["nats.tls.ca-file", ca],
    ["nats.tls.cert-file", cert],
    ["nats.tls.key-file", key],
  ] as const)
    if (file) readSecretFile(file, k);
  return {
    servers: (servers ?? config["nats.url"]).split(","),
    ...(ways[0] ? { authenticator: ways[0][1]() } : {}),
    ...(ca || cert
      ? {
          tls: { ...(ca ? { caFile: ca } : {}), ...(cert ? { certFile: cert, keyFile: key } : {}) },
        }
      : {}),
    ...(config["nats.inbox-prefix"] !== "_INBOX"
      ? { inboxPrefix: config["nats.inbox-prefix"] }
      : {}),
  };
}

/**
 * The options of a connection job code opens (a NATS source or sink). To `servers` the job
 * names: those servers, nothing of the cluster's. To the cluster's NATS: as the `job` user
 * (`nats.job-nkey-file`), with this process's TLS files, so the job reaches its own account and
 * never this block's subjects. A cluster whose NATS has users but no job user configured gives
 * job code no connection: a clear error naming the key, not this block's credentials.
 */
export function jobNatsConnectOptions(config: Config, servers?: string): NatsConnectOptions {
  if (servers) return { servers: servers.split(",") };
  return jobNatsOptionsFrom(jobNatsSettings(config));
}

/**
 * Where and as whom job code connects to the cluster's NATS, as plain data (file names, read by
 * whoever connects): what a TaskManager hands its job processes, which may read those files and
 * none of the TaskManager's own.
 */
export interface JobNatsSettings {
  servers: string[];
  /** The `job` user's nkey seed (`nats.job-nkey-file`). */
  seedFile?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

/** `jobNatsConnectOptions`' settings; a cluster with users and no job user is a config error. */
export function jobNatsSettings(config: Config): JobNatsSettings {
  const own = natsConnectOptions(config);
  const seedFile = config["nats.job-nkey-file"];
  if (!seedFile && own.authenticator)
    throw new InvalidConfigError(
      "nats.job-nkey-file",
      "this job uses the cluster's NATS, whose users this TaskManager knows, but it has no job user: set nats.job-nkey-file (FLOTILLA_NATS_JOB_NKEY_FILE) to the job user's seed (flotilla cluster secrets makes nats-job.nk), or give the source or sink its own servers",
    );
  return {
    servers: own.servers as string[],
    ...(seedFile ? { seedFile } : {}),
    ...(own.tls ? { tls: own.tls as NonNullable<JobNatsSettings["tls"]> } : {}),
  };
}

/** The options of a job connection to `servers` (the job's own), else to the cluster's NATS. */
export function jobNatsOptionsFrom(
  settings: JobNatsSettings,
  servers?: string,
): NatsConnectOptions {
  if (servers) return { servers: servers.split(",") };
  return {
    servers: settings.servers,
    ...(settings.seedFile
      ? { authenticator: nkeyAuthenticator(nkeySeed(settings.seedFile, "nats.job-nkey-file")) }
      : {}),
    ...(settings.tls ? { tls: settings.tls } : {}),
  };
}

/** Opens job code's connections (`jobNatsConnectOptions`); a bad setting rejects, naming its key. */
export function jobNatsConnector(config: Config): (servers?: string) => Promise<NatsConnection> {
  return async (servers) =>
    connect({ ...jobNatsConnectOptions(config, servers), name: "flotilla-job" });
}

/** Opens job code's connections from settings a TaskManager handed over (a job process's way). */
export function jobNatsOpener(
  settings: JobNatsSettings,
): (servers?: string) => Promise<NatsConnection> {
  return async (servers) =>
    connect({ ...jobNatsOptionsFrom(settings, servers), name: "flotilla-job" });
}

/**
 * A client's NATS options: its own settings when it has some, else the `cli` user's seed that
 * `flotilla cluster secrets` made for `cluster.id` on this machine, if there is one.
 */
export function clientNatsOptions(config: Config, servers?: string): NatsConnectOptions {
  const own = natsConnectOptions(config, servers);
  const dir = credentialsDir(config);
  const seed = join(dir, nkeyFileOf("cli"));
  const withSeed =
    own.authenticator || !existsSync(seed)
      ? own
      : {
          ...own,
          authenticator: nkeyAuthenticator(nkeySeed(seed)),
          inboxPrefix: inboxPrefixOf("cli"),
        };
  // A tls:// cluster whose certificates flotilla cluster secrets --tls made: its CA, the cli's.
  const tlsUrl = (servers ?? config["nats.url"]).startsWith("tls://");
  if (withSeed.tls || !tlsUrl || !existsSync(join(dir, TLS_FILES.ca))) return withSeed;
  return {
    ...withSeed,
    tls: {
      caFile: join(dir, TLS_FILES.ca),
      certFile: join(dir, clientCertOf("cli")),
      keyFile: join(dir, clientKeyOf("cli")),
    },
  };
}
