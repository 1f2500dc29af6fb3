/** Test helper: a leader election contender that records its callbacks and lets tests await them. */
import type { LeaderElection } from "../../../components/ha/mod.ts";

export interface ElectionEvent {
  kind: "elected" | "revoked";
  /** The token passed to onElected. */
  token?: number;
  reason?: string;
  /** performance.now() when the callback ran. */
  at: number;
  /** What the election said about itself inside the callback. */
  isLeaderInside: boolean;
  tokenInside: number | undefined;
}

export class Contender {
  readonly events: ElectionEvent[] = [];
  readonly election: LeaderElection;
  #waiters: Array<() => void> = [];

  constructor(election: LeaderElection) {
    this.election = election;
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
    return until(
      [this],
      () => this.events.filter((e) => e.kind === kind)[nth],
      timeoutMs,
      `${kind} event #${nth} of ${this.holder}`,
    );
  }

  /** Calls `wake` once at the next event. */
  onNextEvent(wake: () => void): void {
    this.#waiters.push(wake);
  }

  /** The next event of `kind` after those already recorded. */
  next(kind: ElectionEvent["kind"], timeoutMs: number): Promise<ElectionEvent> {
    return this.nth(kind, this.count(kind), timeoutMs);
  }

  #record(kind: ElectionEvent["kind"], extra: Partial<ElectionEvent>): void {
    this.events.push({
      kind,
      ...extra,
      at: performance.now(),
      isLeaderInside: this.election.isLeader(),
      tokenInside: this.election.token(),
    });
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Waits (event-driven) until `probe` returns something, or fails after `timeoutMs`. */
export async function until<T>(
  contenders: Contender[],
  probe: () => T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    const left = deadline - performance.now();
    if (left <= 0) {
      const events = contenders.map((c) => ({ holder: c.holder, events: c.events }));
      throw new Error(`no ${what} within ${timeoutMs} ms: ${JSON.stringify(events)}`);
    }
    await new Promise<void>((resolve) => {
      let done = false;
      const wake = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(wake, left);
      for (const c of contenders) c.onNextEvent(wake);
    });
  }
}

/** Waits until one of `contenders` leads; returns it with its token and when it was elected. */
export async function firstElected(
  contenders: Contender[],
  timeoutMs: number,
): Promise<{ leader: Contender; token: number; at: number }> {
  return await until(
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
