/**
 * Whether an election's watch on its lease is live, and a way to await that with a deadline: a
 * standby hears a resign only through its watch, so a caller that needs the fast hand-over (a
 * test, a readiness probe) can wait until it is established.
 */
import { type Clock, ErrorCode, FlotillaError, TimeoutError } from "../core/mod.ts";

interface Waiter {
  resolve(): void;
  reject(err: Error): void;
  timer: unknown;
}

export class WatchLiveness {
  readonly #clock: Clock;
  /** Names the watch in errors: "the watch of rm's lease (holder b)". */
  readonly #what: string;
  readonly #waiters = new Set<Waiter>();
  #live = false;
  #ended: string | undefined;

  constructor(clock: Clock, what: string) {
    this.#clock = clock;
    this.#what = what;
  }

  /** What the KV watch reports (`KvWatchOptions.onLive`). */
  set(live: boolean): void {
    this.#live = live;
    if (!live) return;
    for (const waiter of this.#waiters) this.#settle(waiter).resolve();
  }

  /** No watch any more (the election stopped): waiters fail with `reason`. */
  end(reason: string): void {
    this.#live = false;
    this.#ended = reason;
    const err = new FlotillaError(ErrorCode.CONFLICT, `${this.#what} will not be live: ${reason}`);
    for (const waiter of this.#waiters) this.#settle(waiter).reject(err);
  }

  /** Resolves when the watch is live (at once if it is); rejects with TIMEOUT after `timeoutMs`. */
  whenLive(timeoutMs: number): Promise<void> {
    if (this.#live) return Promise.resolve();
    if (this.#ended !== undefined)
      return Promise.reject(
        new FlotillaError(ErrorCode.CONFLICT, `${this.#what} will not be live: ${this.#ended}`),
      );
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      waiter.timer = this.#clock.setTimer(() => {
        this.#settle(waiter);
        reject(new TimeoutError(`${this.#what} was not live within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  #settle(waiter: Waiter): Waiter {
    this.#clock.clearTimer(waiter.timer);
    this.#waiters.delete(waiter);
    return waiter;
  }
}
