/**
 * Leader election on a lease in a key-value store (JetStream KV or memory): `create` wins an
 * empty key, renewals `update` at the last revision, a stale lease is taken over by `update` at
 * its revision (never blindly), and the revision of the winning write is the fencing token.
 *
 * Safety does not rest on the server or on clocks agreeing: a leader steps down on its own
 * monotonic clock `leaseMs` (less a margin) after sending its last acknowledged renewal, while a
 * standby waits `leaseMs` after it first saw that revision (which is later) and for the written
 * wall-clock expiry, both capped (lease.ts `leaseEnd`): a forged lease cannot keep standbys out
 * for ever. A lease written under an outer lease (the `auto` role's `master`) is taken over at
 * once by a contender that holds that outer lease: the holder's term ended with it.
 */
import type { Clock } from "../core/mod.ts";
import {
  ErrorCode,
  FlotillaError,
  type Logger,
  leaderKey,
  StaleLeaderError,
  toFlotillaError,
} from "../core/mod.ts";
import type { HaKv, KvChange } from "./kv.ts";
import { decodeLease, encodeLease, type LeaseValue, leaseEnd, tokenOf } from "./lease.ts";
import { compileLeaseOptions, type LeaseElectionOptions } from "./lease_options.ts";
import { LeaseSightings } from "./lease_sightings.ts";
import { isClosed } from "./nats_call.ts";
import type {
  LeaderCallbacks,
  LeaderElection,
  LeaderElectionOptions,
  LeaderFence,
  LeaderInfo,
  StopOptions,
} from "./types.ts";
import { WatchLiveness } from "./watch_liveness.ts";

interface Lease {
  token: number;
  term: number;
  /** The key's revision after our last acknowledged write. */
  revision: number;
  /** Monotonic time at which we stop leading unless a renewal is acknowledged first. */
  deadline: number;
  /** When the first renewal since the last acknowledged one was sent (it may have landed). */
  unackedSince: number | undefined;
}

export type { LeaseElectionOptions } from "./lease_options.ts";

export class LeaseElection implements LeaderElection {
  readonly role: string;
  readonly holder: string;
  readonly #kv: HaKv;
  readonly #key: string;
  readonly #subject: string;
  readonly #leaseMs: number;
  readonly #renewMs: number;
  readonly #under: LeaderElectionOptions["under"];
  /** Stepping down this much before the lease ends absorbs timer lateness and clock drift. */
  readonly #marginMs: number;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #sightings: LeaseSightings;
  readonly #watch: WatchLiveness;
  #callbacks: LeaderCallbacks | undefined;
  #started = false;
  #stopped = false;
  #lease: Lease | undefined;
  /** Revision of our latest write to the key: what a resign deletes, if still the latest. */
  #written: number | undefined;
  #stepDownTimer: unknown;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #unwatch: (() => void) | undefined;

  constructor(kv: HaKv, options: LeaseElectionOptions) {
    const { role, holder, subject, leaseMs, renewMs, marginMs, under, log, clock } =
      compileLeaseOptions(options);
    this.#kv = kv;
    this.role = role;
    this.holder = holder;
    this.#key = leaderKey(role);
    this.#subject = subject;
    this.#leaseMs = leaseMs;
    this.#renewMs = renewMs;
    this.#under = under;
    this.#marginMs = marginMs;
    this.#log = log.child({ role, holder });
    this.#clock = clock;
    this.#sightings = new LeaseSightings(clock, leaseMs);
    this.#watch = new WatchLiveness(clock, `the watch of ${role}'s lease (holder ${holder})`);
  }

  start(callbacks: LeaderCallbacks): void {
    if (this.#started || this.#stopped) {
      throw new FlotillaError(
        ErrorCode.CONFLICT,
        `leader election for ${this.role} was already ${this.#stopped ? "stopped" : "started"}; create a new one`,
      );
    }
    this.#started = true;
    this.#callbacks = callbacks;
    this.#unwatch = this.#kv.watch(this.#key, (change) => this.#onChange(change), {
      onLive: (live) => this.#watch.set(live),
    });
    this.#loop = this.#run();
  }

  isLeader(): boolean {
    return this.#current() !== undefined;
  }

  token(): number | undefined {
    return this.#current()?.token;
  }

  fence(): LeaderFence {
    const token = this.#current()?.token;
    if (token === undefined) {
      throw new StaleLeaderError(`${this.holder} does not lead ${this.role}: no write as leader`);
    }
    const stale = () =>
      new StaleLeaderError(
        `${this.holder} no longer leads ${this.role} (token ${token}): the write was refused`,
      );
    return {
      role: this.role,
      token,
      check: async () => {
        if (this.token() !== token) throw stale();
        const record = await this.#kv.get(this.#key, { timeoutMs: this.#renewMs });
        if (!record || tokenOf(record) !== token || this.token() !== token) throw stale();
      },
    };
  }

  watching(timeoutMs = this.#leaseMs): Promise<void> {
    return this.#watch.whenLive(timeoutMs);
  }

  async leader(): Promise<LeaderInfo | undefined> {
    const record = await this.#kv.get(this.#key);
    const lease = record && decodeLease(record.value);
    if (!record || !lease) return undefined;
    // Capped: a lease claiming to last for ever ends MAX_LEASE_MS after it was written.
    const { writtenAt } = this.#sightings.see(record.revision, lease, record.writtenAt);
    const expiresAt = leaseEnd(lease, writtenAt, this.#leaseMs);
    if (this.#clock.now() >= expiresAt) return undefined;
    const { holder, subject, term } = lease;
    return { holder, subject, term, token: lease.token ?? record.revision, expiresAt };
  }

  async stop({ resign = true }: StopOptions = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unwatch?.();
    this.#watch.end("the election was stopped");
    this.#revoke(resign ? "resigned: the election was stopped" : "stopped without resigning");
    this.#wake?.();
    await this.#loop;
    if (!resign || this.#written === undefined) return;
    try {
      await this.#kv.delete(this.#key, {
        revision: this.#written,
        retry: false,
        timeoutMs: this.#renewMs,
      });
      this.#log.info("resigned: deleted the lease");
    } catch (err) {
      // CONFLICT: the lease is someone else's by now. Otherwise it simply runs out.
      if (toFlotillaError(err).code !== ErrorCode.CONFLICT) {
        this.#log.warn({ err: (err as Error).message }, "could not delete the lease on resign");
      }
    }
  }

  /** The lease while it is valid; steps down first if its deadline has passed. */
  #current(): Lease | undefined {
    const lease = this.#lease;
    if (lease && this.#clock.monotonic() >= lease.deadline) {
      this.#revoke(`could not renew the lease of ${this.role} within ${this.#leaseMs} ms`);
      return undefined;
    }
    return lease;
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let delay: number;
      try {
        const lease = this.#current();
        delay = lease ? await this.#renew(lease) : await this.#contend();
      } catch (err) {
        if (isClosed(err)) {
          this.#log.warn("the NATS connection is closed: no longer contending");
          return;
        }
        this.#log.warn({ err: (err as Error).message }, "leader election step failed; retrying");
        delay = this.#renewMs / 2;
      }
      if (this.#stopped) break;
      await this.#sleep(delay);
    }
  }

  /** One look at the key as a standby; returns how long to wait before the next. */
  async #contend(): Promise<number> {
    const record = await this.#kv.get(this.#key, { timeoutMs: this.#renewMs, retry: false });
    if (this.#stopped) return 0;
    if (!record) return await this.#claim(undefined);
    const { revision, value, writtenAt } = record;
    const observed = this.#sightings.see(revision, decodeLease(value), writtenAt);
    const untilExpiry = this.#sightings.untilExpiry(observed);
    if (untilExpiry > 0 && !this.#outranks(observed.value))
      // Under the same outer lease: look again soon, the outer lease may come to this process.
      return this.#under && observed.value?.under === this.#under.lease
        ? Math.min(untilExpiry, this.#renewMs)
        : untilExpiry;
    if (untilExpiry > 0)
      this.#log.info(
        { from: observed.value?.holder, under: this.#under?.lease },
        "taking the lease over: its holder lost the outer lease it was held under",
      );
    return await this.#claim(record.revision);
  }

  /** Writes a new lease: `create` on an empty key, or `update` at a stale lease's revision. */
  async #claim(staleRevision: number | undefined): Promise<number> {
    const term = this.#sightings.lastTerm + 1;
    const sentAt = this.#clock.monotonic();
    const value = this.#value(term, undefined);
    const options = { timeoutMs: this.#renewMs, retry: false };
    let revision: number;
    try {
      revision =
        staleRevision === undefined
          ? await this.#kv.create(this.#key, value, options)
          : await this.#kv.update(this.#key, value, staleRevision, options);
    } catch (err) {
      if (toFlotillaError(err).code === ErrorCode.CONFLICT) return 0; // someone was quicker
      throw err;
    }
    this.#written = revision;
    const deadline = sentAt + this.#leaseMs - this.#marginMs;
    if (this.#stopped || this.#clock.monotonic() >= deadline) return 0;
    this.#lease = { token: revision, term, revision, deadline, unackedSince: undefined };
    this.#sightings.lastTerm = term;
    this.#armStepDown();
    this.#log.info({ token: revision, term }, "elected leader");
    this.#notify(() => this.#callbacks?.onElected(revision));
    return this.#renewMs;
  }

  /** One renewal; returns how long to wait before the next. */
  async #renew(lease: Lease): Promise<number> {
    const sentAt = this.#clock.monotonic();
    lease.unackedSince ??= sentAt;
    let revision: number;
    try {
      revision = await this.#kv.update(
        this.#key,
        this.#value(lease.term, lease.token),
        lease.revision,
        { timeoutMs: Math.min(this.#renewMs, lease.deadline - sentAt), retry: false },
      );
    } catch (err) {
      return await this.#renewFailed(lease, toFlotillaError(err));
    }
    this.#written = revision;
    if (this.#lease !== lease) {
      // We stepped down while this renewal was in flight: release the lease it just extended.
      if (!this.#stopped) this.#release(revision);
      return 0;
    }
    // Compare-and-set at lease.revision: this attempt's write is the one that landed, so the
    // lease runs from its sending (an earlier attempt that landed would have made this one fail).
    lease.revision = revision;
    lease.deadline = sentAt + this.#leaseMs - this.#marginMs;
    lease.unackedSince = undefined;
    this.#armStepDown();
    return Math.max(0, this.#renewMs - (this.#clock.monotonic() - sentAt));
  }

  async #renewFailed(lease: Lease, err: FlotillaError): Promise<number> {
    if (this.#lease !== lease) return 0;
    if (err.code === ErrorCode.CONFLICT) {
      // A renewal that timed out may have landed after all: then the lease is still ours.
      const record = await this.#kv
        .get(this.#key, { timeoutMs: this.#renewMs, retry: false })
        .catch(() => undefined);
      if (this.#lease !== lease) return 0;
      if (record && tokenOf(record) === lease.token) {
        // That renewal was sent no earlier than unackedSince: count the lease from there.
        lease.revision = record.revision;
        lease.deadline = (lease.unackedSince ?? 0) + this.#leaseMs - this.#marginMs;
        lease.unackedSince = undefined;
        this.#armStepDown();
        return 0;
      }
      this.#revoke(`the lease of ${this.role} was taken over or deleted`);
      return 0;
    }
    if (isClosed(err)) {
      this.#revoke("the NATS connection is closed");
      return 0;
    }
    this.#log.warn({ err: err.message }, "lease renewal failed; retrying until the lease runs out");
    return Math.min(this.#renewMs / 4, Math.max(0, lease.deadline - this.#clock.monotonic()));
  }

  #onChange(change: KvChange): void {
    if (this.#stopped) return;
    const revision = change.kind === "put" ? change.record.revision : change.revision;
    this.#sightings.see(
      revision,
      change.kind === "put" ? decodeLease(change.record.value) : undefined,
      change.kind === "put" ? change.record.writtenAt : undefined,
    );
    const lease = this.#lease;
    if (lease) {
      const ours = change.kind === "put" && tokenOf(change.record) === lease.token;
      if (!ours && revision > lease.revision) {
        this.#revoke(
          change.kind === "delete"
            ? `the lease of ${this.role} was deleted`
            : `the lease of ${this.role} was taken by ${decodeLease(change.record.value)?.holder ?? "an unknown writer"}`,
        );
      }
    } else if (change.kind === "delete") {
      this.#wake?.(); // a resign: contend now rather than at the old lease's end
    }
  }

  /** Whether `value` was written under the outer lease this process holds now. */
  #outranks(value: LeaseValue | undefined): boolean {
    return value?.under !== undefined && value.under === this.#under?.lease && this.#under.held();
  }

  #value(term: number, token: number | undefined): Uint8Array {
    return encodeLease({
      holder: this.holder,
      subject: this.#subject,
      term,
      expiresAt: this.#clock.now() + this.#leaseMs,
      leaseMs: this.#leaseMs,
      ...(token === undefined ? {} : { token }),
      ...(this.#under ? { under: this.#under.lease } : {}),
    });
  }

  #revoke(reason: string): void {
    const lease = this.#lease;
    if (!lease) return;
    this.#lease = undefined;
    this.#clock.clearTimer(this.#stepDownTimer);
    this.#log.warn({ token: lease.token, reason }, "stepped down");
    this.#notify(() => this.#callbacks?.onRevoked(reason));
    this.#wake?.();
  }

  #release(revision: number): void {
    this.#kv
      .delete(this.#key, { revision, retry: false, timeoutMs: this.#renewMs })
      .catch(() => {});
  }

  #armStepDown(): void {
    this.#clock.clearTimer(this.#stepDownTimer);
    const lease = this.#lease;
    if (!lease) return;
    // #current() steps down once the deadline has passed, and re-arms if the timer fired early.
    this.#stepDownTimer = this.#clock.setTimer(
      () => {
        if (this.#current() === lease) this.#armStepDown();
      },
      Math.max(0, lease.deadline - this.#clock.monotonic()),
    );
  }

  #notify(callback: () => void): void {
    try {
      callback();
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, "leader election callback threw");
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#clock.clearTimer(timer);
        this.#wake = undefined;
        resolve();
      };
      const timer = this.#clock.setTimer(done, ms);
      this.#wake = done;
    });
  }
}
