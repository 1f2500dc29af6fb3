/**
 * One wall-clock timer per keyed task, armed for the earliest processing-time timer its keyed
 * backend holds: a task with many keyed timers keeps at most one `setTimeout` pending.
 */
import type { KeyedBackendWithTimers, TimerCallback } from "../state/heap_backend.ts";

export interface ProcessingTimerOptions {
  backend: KeyedBackendWithTimers;
  /** Called for each due timer, with its key set as the backend's current key. */
  fire: TimerCallback;
  /** The processing-time clock. */
  now: () => number;
  /** A canceled task fires no more timers. */
  canceled: () => boolean;
}

export class ProcessingTimer {
  readonly #options: ProcessingTimerOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedFor = Number.POSITIVE_INFINITY;

  constructor(options: ProcessingTimerOptions) {
    this.#options = options;
  }

  /** Re-arms for the backend's earliest timer, if that is earlier than the one armed now. */
  schedule(): void {
    const { backend, fire, now, canceled } = this.#options;
    const next = backend.nextProcessingTime();
    if (next === undefined || next >= this.#armedFor) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#armedFor = next;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#armedFor = Number.POSITIVE_INFINITY;
        if (canceled()) return;
        backend.advanceProcessingTime(now(), fire);
        this.schedule();
      },
      Math.max(0, next - now()),
    );
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
  }
}
