/** A sink that writes one structured log line per record through the task's logger. */
import { InvalidArgumentError } from "../../core/mod.ts";
import type { Sink } from "../types.ts";

export type LogSinkLevel = "trace" | "debug" | "info" | "warn" | "error";
const LEVELS: readonly LogSinkLevel[] = ["trace", "debug", "info", "warn", "error"];

export interface LogSinkOptions {
  /** @default "info" */
  level?: LogSinkLevel;
  /** The message of every line, e.g. the stream's name. @default "record" */
  prefix?: string;
}

export function log<T = unknown>({
  level = "info",
  prefix = "record",
}: LogSinkOptions = {}): Sink<T> {
  if (!LEVELS.includes(level)) {
    throw new InvalidArgumentError(
      `log sink: level must be one of ${LEVELS.join(", ")}, got ${JSON.stringify(level)}`,
    );
  }
  return {
    kind: "log",
    createWriter(ctx) {
      const logger = ctx.log;
      return {
        write(value, timestamp) {
          logger[level]({ subtask: ctx.subtask, value, timestamp }, prefix);
        },
      };
    },
    describe: () => ({ kind: "log", level, prefix }),
  };
}
