/**
 * The NATS connections a TaskManager opens for job code (NATS sources and sinks): one per job
 * and server list, shared by the job's subtasks here, opened when first asked for and closed once
 * the job has left this TaskManager. Job code never gets the TaskManager's own connection; what
 * it connects as is the opener's choice (in a cluster: the `job` user, see security).
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { JobId, Logger } from "../core/mod.ts";

export type OpenJobConnection = (servers?: string) => Promise<NatsConnection>;

export class JobConnections {
  readonly #open: OpenJobConnection;
  readonly #log: Logger;
  /** By job, then by server list ("" for the cluster's own). */
  readonly #byJob = new Map<JobId, Map<string, Promise<NatsConnection>>>();

  constructor(open: OpenJobConnection, log: Logger) {
    this.#open = open;
    this.#log = log;
  }

  /** The job's connection to `servers` (the cluster's NATS when absent); a failed open is retried next time. */
  for(jobId: JobId, servers?: string): Promise<NatsConnection> {
    let byServers = this.#byJob.get(jobId);
    if (!byServers) {
      byServers = new Map();
      this.#byJob.set(jobId, byServers);
    }
    const key = servers ?? "";
    const known = byServers.get(key);
    if (known) return known;
    const opened = this.#open(servers);
    byServers.set(key, opened);
    opened.catch(() => {
      if (byServers.get(key) === opened) byServers.delete(key);
    });
    return opened;
  }

  /** Jobs with connections open (or opening). */
  jobs(): JobId[] {
    return [...this.#byJob.keys()];
  }

  /** The job left: its connections drain (what its sinks published is flushed) and close. */
  async forget(jobId: JobId): Promise<void> {
    const byServers = this.#byJob.get(jobId);
    if (!byServers) return;
    this.#byJob.delete(jobId);
    await Promise.all(
      [...byServers.values()].map(async (opening) => {
        const nc = await opening.catch(() => undefined);
        await nc?.drain().catch((err: Error) => {
          this.#log.warn({ job: jobId, err: err.message }, "closing a job's NATS connection");
          return nc.close();
        });
      }),
    );
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.jobs().map((jobId) => this.forget(jobId)));
  }
}
