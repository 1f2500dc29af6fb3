/**
 * What a contender has seen of a lease key (which revision, first seen when, the highest term),
 * and from that how long a standby must still wait before it may take the lease over.
 */
import type { Clock } from "../core/mod.ts";
import type { LeaseValue } from "./lease.ts";

export interface Sighting {
  revision: number;
  value: LeaseValue | undefined;
  /** The clock's monotonic time when this revision was first seen here. */
  seenAt: number;
}

export class LeaseSightings {
  readonly #clock: Clock;
  /** The lease length this contender uses: a standby never waits less, whatever was written. */
  readonly #leaseMs: number;
  #latest: Sighting | undefined;
  /** The highest term written or seen: a new term is one more. */
  lastTerm = 0;

  constructor(clock: Clock, leaseMs: number) {
    this.#clock = clock;
    this.#leaseMs = leaseMs;
  }

  /** Notes a revision of the key; the lease clock of a revision starts when it is first seen. */
  see(revision: number, value: LeaseValue | undefined): Sighting {
    const known = this.#latest;
    // Any other revision restarts the clock, even a lower one (a late watch event, or a server
    // that lost its data): waiting longer is always safe, trusting an old sighting is not.
    if (known && revision === known.revision) return known;
    const sighting = { revision, value, seenAt: this.#clock.monotonic() };
    this.#latest = sighting;
    if (value && value.term > this.lastTerm) this.lastTerm = value.term;
    return sighting;
  }

  /**
   * Milliseconds until a standby may take this lease over (0: now): `leaseMs` after it first saw
   * the revision on its own clock, and not before the wall-clock expiry written in it.
   */
  untilExpiry({ value, seenAt }: Sighting): number {
    if (!value) return 0; // a deleted key (create wins it) or a value that is no lease
    const leaseMs = Math.max(value.leaseMs, this.#leaseMs);
    const local = seenAt + leaseMs - this.#clock.monotonic();
    const written = value.expiresAt - this.#clock.now();
    return Math.max(0, Math.ceil(Math.max(local, written)));
  }
}
