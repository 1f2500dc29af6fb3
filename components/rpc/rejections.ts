/**
 * Malformed messages are counted, and logged only a few times per source and interval, so a flood
 * of garbage cannot flood the logs: `rejected(...)` at each refusal, `rejectionMetrics()` on /metrics.
 */
import { BlockRole, type Logger } from "../core/mod.ts";

export interface RejectionLogOptions {
  /** Warn lines logged per source and window; the rest are counted and summed up in one line. @default 5 */
  perWindow?: number;
  /** @default 10000 */
  windowMs?: number;
  /** Sources whose windows are remembered; the least recently seen is forgotten first. @default 1024 */
  maxSources?: number;
  /**
   * Distinct `{source, reason}` label sets of the counter; past it new ones count as source
   * "other" (per reason, up to as many again), then as source and reason "other". @default 256
   */
  maxLabelSets?: number;
  /** @default Date.now */
  now?: () => number;
}

interface SourceWindow {
  startedAt: number;
  logged: number;
  suppressed: number;
  reason: string;
  log: Logger;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const ROLES = new Set<string>(Object.values(BlockRole));
const DATA_TOKEN = "data";

/**
 * The counter's label for a source: a subject (`flotilla.<cluster>.taskmanager.<id>...`) becomes
 * its block role, or "channel" for the data plane, so ids never become label values.
 */
export function rejectionLabel(source: string): string {
  const tokens = source.split(".");
  const role = tokens.find((t) => ROLES.has(t));
  if (role) return role;
  if (tokens.length > 2 && tokens[2] === DATA_TOKEN) return "channel";
  return source;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** One process's counts and log windows; `rejections` is the one the rpc components use. */
export class Rejections {
  readonly #perWindow: number;
  readonly #windowMs: number;
  readonly #maxSources: number;
  readonly #maxLabelSets: number;
  readonly #now: () => number;
  /** Insertion order is recency order: a source is moved to the end each time it is seen. */
  readonly #windows = new Map<string, SourceWindow>();
  readonly #counts = new Map<string, { source: string; reason: string; count: number }>();

  constructor({
    perWindow = 5,
    windowMs = 10_000,
    maxSources = 1024,
    maxLabelSets = 256,
    now = Date.now,
  }: RejectionLogOptions = {}) {
    this.#perWindow = perWindow;
    this.#windowMs = windowMs;
    this.#maxSources = maxSources;
    this.#maxLabelSets = maxLabelSets;
    this.#now = now;
  }

  /**
   * Counts one refused message from `source` (a subject or route) and logs it at warn unless
   * this source already logged `perWindow` lines in this window. `reason` is a short fixed
   * phrase ("bad envelope"): it is the log message and a label value.
   */
  rejected(
    source: string,
    reason: string,
    log: Logger,
    fields: Record<string, unknown> = {},
  ): void {
    this.#count(rejectionLabel(source), reason);
    const now = this.#now();
    const window = this.#windowOf(source, now, reason, log);
    window.log = log;
    window.reason = reason;
    if (window.logged < this.#perWindow) {
      window.logged++;
      log.warn({ ...fields, source }, reason);
      return;
    }
    window.suppressed++;
    if (!window.timer) {
      const left = Math.max(0, window.startedAt + this.#windowMs - now);
      window.timer = setTimeout(() => this.#flush(source, window), left);
      window.timer.unref?.();
    }
  }

  /** Prometheus text for `flotilla_rejected_messages_total{source, reason}`. */
  metrics(): string {
    const lines = [
      "# HELP flotilla_rejected_messages_total Messages refused as malformed, by source and reason.",
      "# TYPE flotilla_rejected_messages_total counter",
    ];
    for (const { source, reason, count } of this.#counts.values()) {
      lines.push(
        `flotilla_rejected_messages_total{source="${escapeLabel(source)}",reason="${escapeLabel(reason)}"} ${count}`,
      );
    }
    return `${lines.join("\n")}\n`;
  }

  /** How many were refused for this label source (see `rejectionLabel`) and reason. */
  count(label: string, reason: string): number {
    return this.#counts.get(`${label}\u0000${reason}`)?.count ?? 0;
  }

  /** Logs what each source still has suppressed and forgets every window (counts stay). */
  flushAll(): void {
    for (const [source, window] of this.#windows) this.#flush(source, window);
    this.#windows.clear();
  }

  #count(label: string, reason: string): void {
    let source = label;
    let why = reason;
    if (!this.#counts.has(`${source}\u0000${why}`) && this.#counts.size >= this.#maxLabelSets) {
      // Past the cap only reasons (fixed phrases in code) can add label sets, then nothing can.
      source = "other";
      if (this.#counts.size >= this.#maxLabelSets * 2) why = "other";
    }
    const key = `${source}\u0000${why}`;
    const entry = this.#counts.get(key);
    if (entry) entry.count++;
    else this.#counts.set(key, { source, reason: why, count: 1 });
  }

  /** The source's current window, made most recent; a window past its end starts again. */
  #windowOf(source: string, now: number, reason: string, log: Logger): SourceWindow {
    const known = this.#windows.get(source);
    if (!known) {
      this.#forgetOldest();
      const fresh = { startedAt: now, logged: 0, suppressed: 0, reason, log, timer: undefined };
      this.#windows.set(source, fresh);
      return fresh;
    }
    this.#windows.delete(source);
    this.#windows.set(source, known);
    if (now - known.startedAt >= this.#windowMs) {
      this.#flush(source, known);
      known.startedAt = now;
      known.logged = 0;
    }
    return known;
  }

  #flush(source: string, window: SourceWindow): void {
    if (window.timer) clearTimeout(window.timer);
    window.timer = undefined;
    if (window.suppressed === 0) return;
    window.log.warn(
      { source, suppressed: window.suppressed, windowMs: this.#windowMs },
      `${window.reason}: suppressed ${window.suppressed} similar`,
    );
    window.suppressed = 0;
  }

  #forgetOldest(): void {
    while (this.#windows.size >= this.#maxSources) {
      const [oldest, window] = this.#windows.entries().next().value as [string, SourceWindow];
      this.#flush(oldest, window);
      this.#windows.delete(oldest);
    }
  }
}

/** The process's registry: every refusal in rpc is counted here. */
export const rejections = new Rejections();

/** Counts and (rate-limited) logs one refused message in the process's registry. */
export function rejected(
  source: string,
  reason: string,
  log: Logger,
  fields: Record<string, unknown> = {},
): void {
  rejections.rejected(source, reason, log, fields);
}

/** The process's `flotilla_rejected_messages_total` counter as Prometheus text. */
export function rejectionMetrics(): string {
  return rejections.metrics();
}
