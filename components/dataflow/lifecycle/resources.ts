/**
 * The job lifecycle's view of resources: whether those for the next attempt are there, at which
 * parallelism (the adaptive scheduler's choice), and whether a deployment changes the
 * parallelism of the one before (a rescale).
 */
import type { Parallelism } from "./types.ts";

const sameParallelism = (a: Parallelism, b: Parallelism): boolean =>
  Object.keys(a).length === Object.keys(b).length &&
  Object.entries(a).every(([id, n]) => b[id] === n);

export class AttemptResources {
  #offered: { parallelism: Parallelism | undefined } | undefined;
  #last: Parallelism | undefined;

  get ready(): boolean {
    return this.#offered !== undefined;
  }

  /** The resources for the next attempt are there (at `parallelism`, when it is chosen). */
  offer(parallelism: Parallelism | undefined): void {
    this.#offered = { parallelism };
  }

  lose(): void {
    this.#offered = undefined;
  }

  /** Whether the last attempt was deployed at `parallelism`. */
  deployedAt(parallelism: Parallelism): boolean {
    return this.#last !== undefined && sameParallelism(parallelism, this.#last);
  }

  /** An attempt deploys with what was offered; `rescaled` when its parallelism changed. */
  deploy(): { parallelism: Parallelism | undefined; rescaled: boolean } {
    const parallelism = this.#offered?.parallelism;
    if (!parallelism) return { parallelism, rescaled: false };
    const rescaled = this.#last !== undefined && !sameParallelism(parallelism, this.#last);
    this.#last = parallelism;
    return { parallelism, rescaled };
  }
}
