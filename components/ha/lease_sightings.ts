/**
 * What a contender has seen of a lease key (which revision, first seen when, the highest term),
 * and from that how long a standby must still wait before it may take the lease over.
 */
import type { Clock } from "../core/mod.ts";
import { honouredLeaseMs, type LeaseValue, leaseEnd } from "./lease.ts";

export interface Sighting {
  revision: number;
  value: LeaseValue | undefined;
  /** The clock's monotonic time when this revision was first seen here. */
  seenAt: number;
  /** When it was written (epoch ms): the store's timestamp, else this clock when first seen. */
  writtenAt: number;
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

  /**
   * Notes a revision of the key (with the store's timestamp of its write, if it gives one); the
   * lease clock of a revision starts when it is first seen.
   */
  see(revision: number, value: LeaseValue | undefined, writtenAt?: number): Sighting {
    const known = this.#latest;
    // Any other revision restarts the clock, even a lower one (a late watch event, or a server
    // that lost its data): waiting longer is always safe, trusting an old sighting is not.
    if (known && revision === known.revision) return known;
    const sighting = {
      revision,
      value,
      seenAt: this.#clock.monotonic(),
      writtenAt: writtenAt ?? this.#clock.now(),
    };
    this.#latest = sighting;
    if (value && value.term > this.lastTerm) this.lastTerm = value.term;
    return sighting;
  }

  /**
   * Milliseconds until a standby may take this lease over (0: now): the lease length after it
   * first saw the revision on its own clock, and not before the wall-clock expiry written in it.
   * Both are capped (`honouredLeaseMs`, `leaseEnd`): a forged lease delays a takeover, never
   * prevents it.
   */
  untilExpiry({ value, seenAt, writtenAt }: Sighting): number {
    if (!value) return 0; // a deleted key (create wins it) or a value that is no lease
    const local = seenAt + honouredLeaseMs(value, this.#leaseMs) - this.#clock.monotonic();
    const written = leaseEnd(value, writtenAt, this.#leaseMs) - this.#clock.now();
    return Math.max(0, Math.ceil(Math.max(local, written)));
  }
}
