/**
 * A task's time as Flink's metrics split it: busy, idle (waiting for input) and back-pressured
 * (waiting for credit), counted at the waits (per batch, never per record).
 */

export interface TaskTimesMs {
  busyMs: number;
  idleMs: number;
  backPressuredMs: number;
}

export class TaskTimes {
  #runningSince: number | undefined;
  #idleMs = 0;
  #backPressuredMs = 0;
  /** When the wait in progress began, and whether it is for credit (else for input). */
  #waitingSince: number | undefined;
  #waitingForCredit = false;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  running(): void {
    this.#runningSince = this.#now();
  }

  /** Awaits `wait`, counting its time as idle (input) or back-pressured (credit). */
  async timed<T>(wait: Promise<T>, forCredit: boolean): Promise<T> {
    const since = this.#now();
    this.#waitingSince = since;
    this.#waitingForCredit = forCredit;
    try {
      return await wait;
    } finally {
      const waited = this.#now() - since;
      if (forCredit) this.#backPressuredMs += waited;
      else this.#idleMs += waited;
      this.#waitingSince = undefined;
    }
  }

  /** The totals since it runs, the wait in progress included. */
  totals(): TaskTimesMs {
    if (this.#runningSince === undefined) return { busyMs: 0, idleMs: 0, backPressuredMs: 0 };
    const now = this.#now();
    let idleMs = this.#idleMs;
    let backPressuredMs = this.#backPressuredMs;
    if (this.#waitingSince !== undefined) {
      if (this.#waitingForCredit) backPressuredMs += now - this.#waitingSince;
      else idleMs += now - this.#waitingSince;
    }
    const busyMs = Math.max(0, now - this.#runningSince - idleMs - backPressuredMs);
    return { busyMs, idleMs, backPressuredMs };
  }
}
