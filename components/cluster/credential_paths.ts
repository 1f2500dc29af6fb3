/** Job processes' file access (taskmanager.job-process-read/-write) never reaches credentials. */
import { resolve } from "node:path";
import { type Config, type ConfigKey, InvalidConfigError } from "../core/mod.ts";
import { credentialsDir } from "../security/mod.ts";

/**
 * A path job processes may reach must not hold the cluster's credentials: the secrets directory,
 * the credentials directory and every credential file this process is configured with.
 */
export function refuseCredentialPaths(
  config: Config,
  key: ConfigKey,
  paths: readonly string[],
): void {
  const credentials = [
    config["secrets.dir"],
    credentialsDir(config),
    ...CREDENTIAL_FILE_KEYS.map((k) => config[k]),
  ]
    .filter((p): p is string => typeof p === "string" && p.length > 0)
    .map((p) => resolve(p));
  for (const path of paths.map((p) => resolve(p)))
    for (const held of credentials)
      if (held === path || held.startsWith(path.endsWith("/") ? path : `${path}/`))
        throw new InvalidConfigError(
          key,
          `${key} names ${path}, which holds ${held}, where the cluster's credentials are: job code must not reach it (name the data directories only)`,
        );
}

const CREDENTIAL_FILE_KEYS = [
  "nats.nkey-file",
  "nats.password-file",
  "nats.token-file",
  "nats.creds-file",
  "nats.tls.key-file",
  "rest.token-file",
  "rest.read-token-file",
  "metrics.token-file",
  "rest.tls.key-file",
] as const satisfies readonly ConfigKey[];
