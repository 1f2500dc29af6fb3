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
