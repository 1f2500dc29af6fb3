/**
 * The options of a lease election, checked once and filled with their defaults: a bad lease or
 * renewal interval fails at construction with the values that were wrong.
 */
import {
  type Clock,
  InvalidArgumentError,
  type Logger,
  silentLogger,
  systemClock,
} from "../core/mod.ts";
import type { LeaderElectionOptions } from "./types.ts";

export interface LeaseElectionOptions extends LeaderElectionOptions {
  /** What times the lease, its renewals and a standby's wait. @default systemClock */
  clock?: Clock;
}

export interface CompiledLeaseOptions {
  role: string;
  holder: string;
  subject: string;
  leaseMs: number;
  renewMs: number;
  /** Stepping down this much before the lease ends absorbs timer lateness and clock drift. */
  marginMs: number;
  under: LeaderElectionOptions["under"];
  log: Logger;
  clock: Clock;
}

export function compileLeaseOptions({
  role,
  holder,
  subject = "",
  leaseMs = 3000,
  // A third: two renewals in a row may fail (a NATS restart) before the lease runs out.
  renewMs = leaseMs / 3,
  under,
  log = silentLogger,
  clock = systemClock,
}: LeaseElectionOptions): CompiledLeaseOptions {
  for (const [name, value] of [
    ["role", role],
    ["holder", holder],
  ] as const) {
    if (typeof value !== "string" || value.length === 0) {
      throw new InvalidArgumentError(`leader election: ${name} must be a non-empty string`);
    }
  }
  const marginMs = leaseMs / 10;
  if (!(renewMs > 0 && leaseMs > 0 && renewMs < leaseMs - marginMs)) {
    throw new InvalidArgumentError(
      `leader election for ${role}: renewMs (${renewMs}) must be positive and under 90% of leaseMs (${leaseMs}); about a third is a good choice`,
    );
  }
  return { role, holder, subject, leaseMs, renewMs, marginMs, under, log, clock };
}
