/** Test helper: a leader election contender that records its callbacks and lets tests await them. */
import { type Clock, systemClock } from "../../../components/core/clock.ts";
import type { LeaderElection } from "../../../components/ha/mod.ts";
import { until } from "../../support/poll.ts";

export interface ElectionEvent {
  kind: "elected" | "revoked";
  /** The token passed to onElected. */
  token?: number;
  reason?: string;
  /** The contender's monotonic clock when the callback ran. */
  at: number;
  /** Its wall clock then: compares with a lease's written expiry (order, not duration). */
  wallAt: number;
  /** What the election said about itself inside the callback. */
  isLeaderInside: boolean;
  tokenInside: number | undefined;
}

export class Contender {
  readonly events: ElectionEvent[] = [];
  readonly election: LeaderElection;
  readonly #clock: Pick<Clock, "monotonic" | "now">;

  /** `clock`: the one the election runs on, so event times compare with the test's. */
  constructor(election: LeaderElection, clock: Pick<Clock, "monotonic" | "now"> = systemClock) {
    this.election = election;
    this.#clock = clock;
  }

  get holder(): string {
    return this.election.holder;
  }

  start(): this {
    this.election.start({
      onElected: (token) => this.#record("elected", { token }),
      onRevoked: (reason) => this.#record("revoked", { reason }),
    });
    return this;
  }

  count(kind: ElectionEvent["kind"]): number {
    return this.events.filter((e) => e.kind === kind).length;
  }

  /** The `nth` (0-based) event of `kind`, waiting for it up to `timeoutMs`. */
  nth(kind: ElectionEvent["kind"], nth: number, timeoutMs: number): Promise<ElectionEvent> {
    return withEvents(
      [this],
      () => this.events.filter((e) => e.kind === kind)[nth],
      timeoutMs,
      `${kind} event #${nth} of ${this.holder}`,
    );
  }

  /** The next event of `kind` after those already recorded. */
  next(kind: ElectionEvent["kind"], timeoutMs: number): Promise<ElectionEvent> {
    return this.nth(kind, this.count(kind), timeoutMs);
  }

  #record(kind: ElectionEvent["kind"], extra: Partial<ElectionEvent>): void {
    this.events.push({
      kind,
      ...extra,
      at: this.#clock.monotonic(),
      wallAt: this.#clock.now(),
      isLeaderInside: this.election.isLeader(),
      tokenInside: this.election.token(),
    });
  }
}

/** `until` on `probe`, whose failure lists every event the contenders saw. */
async function withEvents<T>(
  contenders: Contender[],
  probe: () => T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  try {
    return await until(probe, what, { timeoutMs, intervalMs: 5 });
  } catch (err) {
    const events = contenders.map((c) => ({ holder: c.holder, events: c.events }));
    throw new Error(`${(err as Error).message}; events: ${JSON.stringify(events)}`);
  }
}

/** Waits until one of `contenders` leads; returns it with its token and when it was elected. */
export async function firstElected(
  contenders: Contender[],
  timeoutMs: number,
): Promise<{ leader: Contender; token: number; at: number }> {
  return await withEvents(
    contenders,
    () => {
      const leader = contenders.find((c) => c.election.isLeader());
      if (!leader) return undefined;
      const elected = leader.events.filter((e) => e.kind === "elected").at(-1)!;
      return { leader, token: leader.election.token()!, at: elected.at };
    },
    timeoutMs,
    "leader",
  );
}
