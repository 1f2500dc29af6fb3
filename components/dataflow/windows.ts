/**
 * Window assigners, what users pass to `.window(...)`: tumbling, sliding and session windows in
 * event or processing time, with Flink's arithmetic (a window is [start, end), its last
 * timestamp is end - 1).
 */
import { InvalidArgumentError } from "../core/mod.ts";

/** Which clock assigns and fires windows. */
export type WindowTime = "event" | "processing";

export interface Window {
  readonly start: number;
  /** Exclusive. */
  readonly end: number;
}

export interface WindowAssigner {
  readonly kind: "tumbling" | "sliding" | "session";
  readonly time: WindowTime;
  /** False when the user gave no `time`: the stream then decides (event time if it has timestamps). */
  readonly explicitTime: boolean;
  /** Session windows merge per key when they overlap; the others never change once assigned. */
  readonly merging: boolean;
  /** Every window `timestamp` falls into (for sessions: its own, before merging). */
  assign(timestamp: number): Window[];
  /** JSON description for the plan. */
  describe(): Record<string, unknown>;
}

export interface TumblingOptions {
  /** Window length in ms. */
  size: number;
  /** Shifts window starts, e.g. -3_600_000 * 8 for days in UTC+8. @default 0 */
  offset?: number;
  /** @default event time when the stream has timestamps, processing time otherwise */
  time?: WindowTime;
}

export interface SlidingOptions {
  size: number;
  /** Distance between window starts in ms; each record belongs to size / slide windows. */
  slide: number;
  /** @default 0 */
  offset?: number;
  /** @default event time when the stream has timestamps, processing time otherwise */
  time?: WindowTime;
}

export interface SessionOptions {
  /** A key's session closes after this many ms without records. */
  gap: number;
  /** @default event time when the stream has timestamps, processing time otherwise */
  time?: WindowTime;
}

/** The last timestamp inside a window. */
export function maxTimestamp(window: Window): number {
  return window.end - 1;
}

/** Flink's TimeWindow.getWindowStartWithOffset, with a true modulo for negative timestamps. */
export function windowStart(timestamp: number, offset: number, size: number): number {
  return timestamp - ((((timestamp - offset) % size) + size) % size);
}

/** Flink's TimeWindow.intersects: overlapping or touching windows merge. */
export function intersects(a: Window, b: Window): boolean {
  return a.start <= b.end && a.end >= b.start;
}

function positive(what: string, name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(
      `${what}: '${name}' must be a number of ms > 0, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** An absent time defaults to "event" here; `window()` then lets the stream decide. */
function timeOf(what: string, time: unknown = "event"): WindowTime {
  if (time !== "event" && time !== "processing") {
    throw new InvalidArgumentError(
      `${what}: 'time' must be "event" or "processing", got ${JSON.stringify(time)}`,
    );
  }
  return time;
}

function offsetOf(what: string, offset: unknown, period: number): number {
  if (typeof offset !== "number" || !Number.isFinite(offset) || Math.abs(offset) >= period) {
    throw new InvalidArgumentError(
      `${what}: 'offset' must be a number of ms with |offset| < ${period}, got ${JSON.stringify(offset)}`,
    );
  }
  return offset;
}

function tumbling({ size, offset = 0, time }: TumblingOptions): WindowAssigner {
  const what = "windows.tumbling()";
  positive(what, "size", size);
  offsetOf(what, offset, size);
  return {
    kind: "tumbling",
    time: timeOf(what, time),
    explicitTime: time !== undefined,
    merging: false,
    assign(timestamp) {
      const start = windowStart(timestamp, offset, size);
      return [{ start, end: start + size }];
    },
    describe: () => ({ kind: "tumbling", size, offset, time: time ?? "event" }),
  };
}

function sliding({ size, slide, offset = 0, time }: SlidingOptions): WindowAssigner {
  const what = "windows.sliding()";
  positive(what, "size", size);
  positive(what, "slide", slide);
  offsetOf(what, offset, slide);
  return {
    kind: "sliding",
    time: timeOf(what, time),
    explicitTime: time !== undefined,
    merging: false,
    assign(timestamp) {
      const windows: Window[] = [];
      for (
        let start = windowStart(timestamp, offset, slide);
        start > timestamp - size;
        start -= slide
      ) {
        windows.push({ start, end: start + size });
      }
      return windows;
    },
    describe: () => ({ kind: "sliding", size, slide, offset, time: time ?? "event" }),
  };
}

function session({ gap, time }: SessionOptions): WindowAssigner {
  const what = "windows.session()";
  positive(what, "gap", gap);
  return {
    kind: "session",
    time: timeOf(what, time),
    explicitTime: time !== undefined,
    merging: true,
    assign: (timestamp) => [{ start: timestamp, end: timestamp + gap }],
    describe: () => ({ kind: "session", gap, time: time ?? "event" }),
  };
}

/** The window assigners of the user API: `windows.tumbling({ size: 1000 })`. */
export const windows = { tumbling, sliding, session } as const;
