/**
 * A token bucket for sources: `ratePerSecond` tokens accrue on the context's clock, up to one
 * second's worth, so a reader that was held back by backpressure does not burst far past its rate.
 */
import { sleep } from "./support.ts";

/** Longest a poll waits for the next token before returning an empty batch. */
const MAX_WAIT_MS = 100;

export class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  #tokens = 1;
  #last: number | undefined;

  constructor(ratePerSecond: number, now: () => number) {
    this.#rate = ratePerSecond;
    this.#burst = Math.max(1, ratePerSecond);
    this.#now = now;
  }

  /** Up to `max` whole tokens, waiting briefly for the first; 0 when none came in time. */
  async take(max: number): Promise<number> {
    this.#refill();
    if (this.#tokens < 1) {
      await sleep(Math.min(MAX_WAIT_MS, Math.ceil(((1 - this.#tokens) * 1000) / this.#rate)));
      this.#refill();
    }
    const granted = Math.min(max, Math.floor(this.#tokens));
    this.#tokens -= granted;
    return granted;
  }

  /** Returns tokens that were taken but not used. */
  giveBack(n: number): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + n);
  }

  #refill(): void {
    const now = this.#now();
    // The first call starts the clock: a reader earns nothing for the time before it ran.
    const elapsed = this.#last === undefined ? 0 : Math.max(0, now - this.#last);
    this.#last = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + (elapsed * this.#rate) / 1000);
  }
}
