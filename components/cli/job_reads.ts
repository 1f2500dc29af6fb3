/**
 * How the job commands read the cluster: a job's details in Flink's JobDetailsInfo (typed from
 * the Dispatcher's contract), reads retried through a master's failover, and one connection per
 * command.
 */
import { type Config, ErrorCode, type FlotillaError } from "../core/mod.ts";
import type { JobDetailsInfo } from "../protocol/mod.ts";
import { unwrap } from "../rpc/mod.ts";
import { remote } from "./cli_config.ts";
import type { ClusterApi } from "./cluster_api.ts";
import type { Output } from "./io.ts";

/** `GET /jobs/:jobid`: the job's details as Flink's REST API answers them. */
export const detailsOf = (cluster: ClusterApi, jobid: string): Promise<JobDetailsInfo> =>
  unwrap(cluster.client.jobs[":jobid"].$get({ param: { jobid } }));

export const seconds = (ms: number) =>
  ms < 1000 ? `${Math.round(ms)} ms` : `${Math.round(ms / 1000)} s`;

/**
 * A read the cluster cannot answer for a while (its master failing over: 503 from a standby, no
 * responders on NATS, a refused connection) is retried for up to a minute, saying so once.
 */
export async function throughFailover<T>(read: () => Promise<T>, out: Output): Promise<T> {
  const deadline = Date.now() + 60_000;
  let said = false;
  for (;;) {
    try {
      return await read();
    } catch (err) {
      const code = (err as FlotillaError).code;
      if ((code !== ErrorCode.UNAVAILABLE && code !== ErrorCode.TIMEOUT) || Date.now() > deadline)
        throw err;
      if (!said) {
        out.event({ event: "unavailable", message: (err as Error).message });
        if (!out.json) out.line(`cluster unavailable (${(err as Error).message}); retrying`);
        said = true;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** Runs `command` against the configured cluster and closes the connection after. */
export async function withCluster(
  config: Config,
  command: (cluster: ClusterApi) => Promise<number>,
): Promise<number> {
  const cluster = remote(config);
  try {
    return await command(cluster);
  } finally {
    await cluster.close();
  }
}
