/**
 * The CLI's configuration, compiled once per command like a role's: flags (`--cluster`,
 * `--cluster-id`, `--token-file`) > `FLOTILLA_*` environment > `FLOTILLA_CONFIG` file > defaults. The job
 * runtime (secrets, artifact cache) of this process is set from it too.
 */
import { type Config, compileConfig, InvalidConfigError } from "../core/mod.ts";
import { configureJobRuntime } from "../dataflow/internal_mod.ts";
import { clientNatsOptions, clientRestCa, clientRestToken } from "../security/mod.ts";
import { type ClusterApi, remoteCluster } from "./cluster_api.ts";
import type { Flags } from "./io.ts";
import { usage } from "./usage.ts";

const text = (value: unknown) => (value === undefined ? undefined : String(value));

export function configureCli(flags: Flags): Config {
  let config: Config;
  try {
    config = compileConfig({
      // cac reads `--cluster-id 7` as a number; an id is a string.
      flags: {
        "cluster.address": text(flags.cluster),
        "cluster.id": text(flags.clusterId),
        "client.cancel-timeout": text(flags.timeout),
        "rest.token-file": text(flags.tokenFile),
      },
    });
  } catch (err) {
    // The address is what a user mistypes most: say what a good one looks like.
    if (
      err instanceof InvalidConfigError &&
      err.key === "cluster.address" &&
      flags.cluster !== undefined
    )
      throw usage(
        `bad cluster address ${JSON.stringify(text(flags.cluster))}: use http://host:8081 or nats://host:4222`,
      );
    throw usage((err as Error).message);
  }
  configureJobRuntime(config);
  return config;
}

/** The cluster at `address` (`cluster.address`, `--cluster`), with the CLI's id and deadline. */
export function remote(config: Config, address = config["cluster.address"]): ClusterApi {
  if (!address)
    throw usage(
      "no cluster given: pass --cluster http://host:8081 (or nats://host:4222) or set FLOTILLA_CLUSTER_ADDRESS",
    );
  const token = clientRestToken(config);
  const ca = /^https:/.test(address) ? clientRestCa(config) : undefined;
  const { servers: _, ...nats } = clientNatsOptions(config, address);
  return remoteCluster(address, {
    clusterId: config["cluster.id"],
    timeoutMs: config["client.timeout"],
    ...(token ? { token } : {}),
    ...(ca ? { ca } : {}),
    nats,
  });
}
