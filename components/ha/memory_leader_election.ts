/**
 * Leader election in memory for the embedded MiniCluster: contenders in one process share a
 * registry and race exactly as they would on JetStream KV (same algorithm, same timings).
 */
import type { HaKv } from "./kv.ts";
import { LeaseElection, type LeaseElectionOptions } from "./lease_election.ts";
import { MemoryKv } from "./memory_kv.ts";
import type { LeaderElection } from "./types.ts";

/** Where in-process contenders keep their leases: share one per cluster. */
export class MemoryLeaderRegistry {
  /** The leases, as a KV map (the memory HA services keep their records in the same one). */
  readonly kv: HaKv;

  constructor(kv: HaKv = new MemoryKv()) {
    this.kv = kv;
  }
}

export function memoryLeaderRegistry(): MemoryLeaderRegistry {
  return new MemoryLeaderRegistry();
}

export interface MemoryLeaderElectionOptions extends LeaseElectionOptions {
  registry: MemoryLeaderRegistry;
}

/** An election that has not started yet. */
export function memoryLeaderElection({
  registry,
  ...options
}: MemoryLeaderElectionOptions): LeaderElection {
  return new LeaseElection(registry.kv, options);
}
