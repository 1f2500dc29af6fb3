/**
 * Structured logging: JSON lines through pino, one child logger per block with its bindings
 * (role, cluster, instance), so every line says who wrote it.
 */
import { pino } from "pino";

export type Logger = pino.Logger;
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export interface LoggerOptions {
  /** @default "info" */
  level?: LogLevel;
  /** Fields written on every line, e.g. `{ role: "resourcemanager", cluster: "default" }`. */
  bindings?: Record<string, unknown>;
  /** Where lines go. @default stdout */
  destination?: pino.DestinationStream;
}

export function createLogger({
  level = "info",
  bindings = {},
  destination,
}: LoggerOptions = {}): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: bindings,
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that writes nothing: the default for library code nobody gave a logger. */
export const silentLogger: Logger = pino({ level: "silent" });
