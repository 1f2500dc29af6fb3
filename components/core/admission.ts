/**
 * A bound on work in flight: past `max` at once, a call is refused with 429 TOO_MANY_REQUESTS
 * before it does anything, so a flood of requests costs a counter check each, not a blob read,
 * a hash and a place in a queue.
 */
import { ErrorCode, FlotillaError } from "./errors.ts";

export class Admission {
  #inFlight = 0;

  /** `what` names the work in the refusal: "submissions", ... */
  constructor(
    readonly max: number,
    readonly what: string,
  ) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  async admit<T>(work: () => Promise<T>): Promise<T> {
    if (this.#inFlight >= this.max)
      throw new FlotillaError(
        ErrorCode.TOO_MANY_REQUESTS,
        `${this.#inFlight} ${this.what} are in progress already: try again shortly`,
      );
    this.#inFlight++;
    try {
      return await work();
    } finally {
      this.#inFlight--;
    }
  }
}

/**
 * A rate with a burst (a token bucket): `take()` refuses with 429 once more than `burst` calls
 * came faster than `perSecond`, so a flood costs the store behind it at most that rate.
 */
export class RateLimit {
  #tokens: number;
  #at: number;

  /** `what` names the calls in the refusal: "new artifacts", ... */
  constructor(
    readonly perSecond: number,
    readonly burst: number,
    readonly what: string,
    readonly now: () => number = Date.now,
  ) {
    this.#tokens = burst;
    this.#at = now();
  }

  /** Takes a token; false (and nothing taken) past the rate. */
  tryTake(): boolean {
    const now = this.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.perSecond);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Takes a token, or refuses with 429 past the rate. */
  take(): void {
    if (!this.tryTake())
      throw new FlotillaError(
        ErrorCode.TOO_MANY_REQUESTS,
        `more than ${this.perSecond} ${this.what} a second: try again shortly`,
      );
  }
}
