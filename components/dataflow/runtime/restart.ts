/** Restart strategies, as Flink's: none, fixed-delay, exponential-delay, failure-rate. */
import type { RestartStrategy } from "../api/job_options.ts";

export interface RestartDecision {
  restart: boolean;
  delayMs: number;
  /** Why not, when `restart` is false. */
  reason?: string;
}

export interface RestartPolicy {
  onFailure(now: number): RestartDecision;
}

export function restartPolicy(strategy: RestartStrategy): RestartPolicy {
  switch (strategy.type) {
    case "none":
      return {
        onFailure: () => ({ restart: false, delayMs: 0, reason: "restart strategy is 'none'" }),
      };
    case "fixed-delay": {
      let failures = 0;
      return {
        onFailure() {
          failures++;
          if (failures > strategy.attempts) {
            return {
              restart: false,
              delayMs: 0,
              reason: `fixed-delay: ${strategy.attempts} restart attempts used up`,
            };
          }
          return { restart: true, delayMs: strategy.delayMs };
        },
      };
    }
    case "exponential-delay": {
      const {
        initialDelayMs = 1000,
        maxDelayMs = 60_000,
        multiplier = 2,
        resetAfterMs = 60_000,
        attempts = Infinity,
      } = strategy;
      let delay = initialDelayMs;
      let failures = 0;
      let last = -Infinity;
      return {
        onFailure(now) {
          if (now - last > resetAfterMs) {
            delay = initialDelayMs;
            failures = 0;
          }
          last = now;
          failures++;
          if (failures > attempts) {
            return {
              restart: false,
              delayMs: 0,
              reason: `exponential-delay: ${attempts} restart attempts used up`,
            };
          }
          const current = delay;
          delay = Math.min(maxDelayMs, delay * multiplier);
          return { restart: true, delayMs: current };
        },
      };
    }
    case "failure-rate": {
      const times: number[] = [];
      return {
        onFailure(now) {
          times.push(now);
          while (times.length && times[0]! <= now - strategy.intervalMs) times.shift();
          if (times.length > strategy.maxFailures) {
            return {
              restart: false,
              delayMs: 0,
              reason: `failure-rate: more than ${strategy.maxFailures} failures within ${strategy.intervalMs} ms`,
            };
          }
          return { restart: true, delayMs: strategy.delayMs };
        },
      };
    }
  }
}
