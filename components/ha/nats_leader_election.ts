/** Leader election on the cluster's JetStream KV bucket (`flotilla_<clusterId>`, key `leader.<role>`). */
import type { NatsConnection } from "@nats-io/transport-node";
import { LeaseElection, type LeaseElectionOptions } from "./lease_election.ts";
import { openNatsKv } from "./nats_kv.ts";
import type { LeaderElection } from "./types.ts";

export interface NatsLeaderElectionOptions extends LeaseElectionOptions {
  nc: NatsConnection;
  /** Names the bucket: `flotilla_<clusterId>`. */
  clusterId: string;
}

/** Opens the bucket (creating it if needed) and returns an election that has not started yet. */
export async function natsLeaderElection(
  options: NatsLeaderElectionOptions,
): Promise<LeaderElection> {
  const { nc, clusterId, log } = options;
  const kv = await openNatsKv({ nc, clusterId, ...(log ? { log } : {}) });
  return new LeaseElection(kv, options);
}
