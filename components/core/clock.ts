/**
 * Time as a dependency: components that wait or measure take a `Clock` (default `systemClock`),
 * so tests can move time by hand and assert order and outcome instead of milliseconds.
 */

export interface Clock {
  /** Wall-clock time in ms since the epoch (`Date.now`): for times other processes read. */
  now(): number;
  /** A monotonic time in ms (`performance.now`): for durations measured in this process. */
  monotonic(): number;
  /** Calls `fn` once after `ms`; returns a handle for `clearTimer`. */
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

/** The real clock. Its timers keep the process alive, like plain `setTimeout`. */
export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout> | undefined),
};
