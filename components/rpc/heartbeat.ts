/**
 * Heartbeats after Flink's HeartbeatManager: ping every monitored target each interval; a target
 * silent for longer than the timeout is lost, and so is one that twice in a row has nobody
 * listening (Flink 1.14's rpc-failure-threshold), without waiting for the timeout.
 */
import {
  type Clock,
  ErrorCode,
  type FlotillaError,
  systemClock,
  toFlotillaError,
} from "../core/mod.ts";

export interface HeartbeatOptions<T> {
  /** @default 1000 (config `heartbeat.interval`) */
  intervalMs?: number;
  /** @default 5000 (config `heartbeat.timeout`) */
  timeoutMs?: number;
  /** Consecutive unreachable replies that count as lost at once. @default 2 */
  unreachableThreshold?: number;
  /** What measures silences and schedules the pings. @default systemClock */
  clock?: Clock;
  /** One heartbeat request; resolves when the target answered. */
  ping(id: string, target: T): Promise<void>;
  /** Called once per loss; the target is no longer monitored afterwards. */
  onLost(id: string, target: T, reason: string): void;
}

interface Monitored<T> {
  target: T;
  lastSeen: number;
  unreachable: number;
  pinging: boolean;
}

export class HeartbeatMonitor<T = unknown> {
  readonly #targets = new Map<string, Monitored<T>>();
  readonly #options: Required<HeartbeatOptions<T>>;
  #timer: unknown;
  /** When the last tick ran (or the timer started). */
  #lastTick = 0;

  constructor({
    intervalMs = 1000,
    timeoutMs = 5000,
    unreachableThreshold = 2,
    clock = systemClock,
    ...rest
  }: HeartbeatOptions<T>) {
    this.#options = { intervalMs, timeoutMs, unreachableThreshold, clock, ...rest };
  }

  /** Start (or restart) monitoring a target; its timeout counts from now. */
  monitor(id: string, target: T): void {
    const now = this.#options.clock.monotonic();
    this.#targets.set(id, { target, lastSeen: now, unreachable: 0, pinging: false });
    if (this.#timer === undefined) {
      this.#lastTick = now;
      this.#schedule();
    }
  }

  unmonitor(id: string): void {
    this.#targets.delete(id);
    if (this.#targets.size === 0) this.stop();
  }

  /** A heartbeat that arrived on its own (a target that reports in) also counts. */
  received(id: string): void {
    const m = this.#targets.get(id);
    if (m) {
      m.lastSeen = this.#options.clock.monotonic();
      m.unreachable = 0;
    }
  }

  /** How long ago the target last answered or reported in (ms); undefined when not monitored. */
  silenceMs(id: string): number | undefined {
    const m = this.#targets.get(id);
    return m ? this.#options.clock.monotonic() - m.lastSeen : undefined;
  }

  has(id: string): boolean {
    return this.#targets.has(id);
  }

  /** Monitored target ids. */
  ids(): string[] {
    return [...this.#targets.keys()];
  }

  stop(): void {
    if (this.#timer !== undefined) this.#options.clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  /** One tick each interval; a late tick (a paused process) is not made up for. */
  #schedule(): void {
    const timer = this.#options.clock.setTimer(() => {
      this.#tick();
      // Unless the tick stopped the monitor (or a callback restarted it with a timer of its own).
      if (this.#timer === timer) this.#schedule();
    }, this.#options.intervalMs);
    this.#timer = timer;
  }

  #lose(id: string, m: Monitored<T>, reason: string): void {
    if (this.#targets.get(id) !== m) return;
    this.unmonitor(id);
    this.#options.onLost(id, m.target, reason);
  }

  #tick(): void {
    const now = this.#options.clock.monotonic();
    const { timeoutMs, unreachableThreshold } = this.#options;
    const paused = now - this.#lastTick > timeoutMs;
    this.#lastTick = now;
    if (paused) {
      // This process was not running (SIGSTOP, a stalled event loop): no reply could be read
      // meanwhile, so the silence is ours, not the targets'. Their clocks restart from now.
      for (const m of this.#targets.values()) m.lastSeen = now;
    }
    for (const [id, m] of this.#targets) {
      if (now - m.lastSeen > timeoutMs) {
        this.#lose(id, m, `no heartbeat for ${now - m.lastSeen} ms (timeout ${timeoutMs} ms)`);
        continue;
      }
      if (m.pinging) continue;
      m.pinging = true;
      this.#options
        .ping(id, m.target)
        .then(
          () => this.received(id),
          (err) => {
            const error: FlotillaError = toFlotillaError(err);
            // A timeout proves nothing on its own; "nobody is listening" twice in a row does.
            if (error.code !== ErrorCode.UNAVAILABLE) return;
            m.unreachable++;
            if (m.unreachable >= unreachableThreshold) {
              this.#lose(id, m, `unreachable ${m.unreachable} times in a row: ${error.message}`);
            }
          },
        )
        .finally(() => {
          m.pinging = false;
        });
    }
  }
}
