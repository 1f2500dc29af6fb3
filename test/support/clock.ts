/**
 * A clock the test moves by hand (components take it as their `clock` option): timers fire in
 * order of their due time, and promise chains they start settle before the next one fires.
 */
import type { Clock } from "../../components/core/clock.ts";

interface Timer {
  at: number;
  id: number;
  fn: () => void;
}

/** Where the wall clock of a manual clock starts: any fixed instant works. */
const WALL_START = Date.UTC(2026, 0, 1);

export class ManualClock implements Clock {
  #elapsed = 0;
  #ids = 0;
  #timers: Timer[] = [];

  now(): number {
    return WALL_START + this.#elapsed;
  }

  monotonic(): number {
    return this.#elapsed;
  }

  setTimer(fn: () => void, ms: number): number {
    const id = ++this.#ids;
    this.#timers.push({ at: this.#elapsed + Math.max(0, ms), id, fn });
    return id;
  }

  clearTimer(handle: unknown): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== handle);
  }

  /** Timers set and not yet fired or cleared. */
  pending(): number {
    return this.#timers.length;
  }

  /**
   * Moves time forward by `ms` as a running process lives it: each timer fires at its own due
   * time, in order (those it sets too, if due within `ms`), with promises settled in between.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#elapsed + ms;
    await settle();
    for (let next = this.#nextDue(end); next; next = this.#nextDue(end)) {
      this.#elapsed = Math.max(this.#elapsed, next.at);
      this.#fire(next);
      await settle();
    }
    this.#elapsed = end;
  }

  /**
   * Moves time forward by `ms` at once, as a process paused that long (SIGSTOP, a blocked event
   * loop) lives it: nothing runs meanwhile, then each overdue timer fires once, late.
   */
  async jump(ms: number): Promise<void> {
    await settle();
    this.#elapsed += ms;
    const overdue = this.#timers.filter((timer) => timer.at <= this.#elapsed);
    for (const timer of overdue.sort(byDue)) {
      if (!this.#timers.includes(timer)) continue; // cleared by an earlier one
      this.#fire(timer);
      await settle();
    }
  }

  /** Advances in `stepMs` steps until `check` holds; fails after `maxMs` of manual time. */
  async advanceUntil(check: () => boolean, what: string, stepMs: number, maxMs: number) {
    for (let moved = 0; !check(); moved += stepMs) {
      if (moved >= maxMs)
        throw new Error(`${what} never happened within ${maxMs} ms (manual clock)`);
      await this.advance(stepMs);
    }
  }

  #nextDue(end: number): Timer | undefined {
    return this.#timers.filter((timer) => timer.at <= end).sort(byDue)[0];
  }

  #fire(timer: Timer): void {
    this.#timers = this.#timers.filter((t) => t !== timer);
    timer.fn();
  }
}

const byDue = (a: Timer, b: Timer) => a.at - b.at || a.id - b.id;

/** Lets every pending promise chain run (microtasks drain before the next macrotask). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
