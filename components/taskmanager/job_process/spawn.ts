/**
 * Starting job processes: the flotilla executable as `job-process`, through `env -i` (no
 * environment), under Node's permission model with what a job may read and write, and a heap
 * limit. One idle process is kept started ahead (a warm spare: a process start is a quarter of a
 * second of CPU), replaced when what job processes may read has changed (a secret was added). And
 * a process's output, forwarded to the TaskManager's log with the job's id.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import {
  JOB_PROCESS_COMMAND,
  type Logger,
  type LogLevel,
  packageRootOf,
  permissionFlag,
  RateLimit,
} from "../../core/mod.ts";

const ENV = "/usr/bin/env";
/** Longest output line of a job process that is logged. */
const MAX_LOG_LINE = 8192;

export interface SpawnOptions {
  /** The flotilla executable (`process.argv[1]`). */
  entry: string;
  /** What a job process may read besides flotilla's code, as of now (secrets come and go). */
  readable(): string[];
  writable: readonly string[];
  memoryMb: number;
  logLevel: LogLevel;
}

export class JobProcessSpawner {
  readonly #o: SpawnOptions;
  readonly #code: string;
  #spare: { child: ChildProcess; readable: string[] } | undefined;

  constructor(options: SpawnOptions) {
    this.#o = options;
    const entry = realpathSync(options.entry);
    this.#code = packageRootOf(entry) ?? entry;
  }

  /** A started process, idle until its TaskManager sends it its job; a new spare starts. */
  take(): ChildProcess {
    const readable = [this.#code, ...this.#o.readable()];
    let taken = this.#spare;
    this.#spare = undefined;
    if (taken && (taken.child.exitCode !== null || !isDeepStrictEqual(taken.readable, readable))) {
      taken.child.kill("SIGKILL");
      taken = undefined;
    }
    const child = taken?.child ?? this.#start(readable);
    held(child, true);
    this.#spare = { child: this.#start(readable), readable };
    return child;
  }

  /** Ends the spare (the TaskManager stops). */
  close(): void {
    this.#spare?.child.kill("SIGKILL");
    this.#spare = undefined;
  }

  #start(readable: string[]): ChildProcess {
    const o = this.#o;
    const args = [
      permissionFlag(),
      ...readable.map((path) => `--allow-fs-read=${path}`),
      ...o.writable.map((path) => `--allow-fs-write=${path}`),
      `--max-old-space-size=${o.memoryMb}`,
      o.entry,
      JOB_PROCESS_COMMAND,
      o.logLevel,
    ];
    const [command, argv] = existsSync(ENV)
      ? [ENV, ["-i", process.execPath, ...args]]
      : [process.execPath, args];
    const child = spawn(command, argv, { env: {}, stdio: ["ignore", "pipe", "pipe", "pipe"] });
    child.once("error", () => {}); // a spare that cannot start: its taker sees it exit
    // An idle spare never keeps the TaskManager's process up.
    held(child, false);
    return child;
  }
}

/** Whether `child` (and its pipes) keeps this process's event loop alive. */
function held(child: ChildProcess, keep: boolean): void {
  for (const handle of [child, ...child.stdio])
    (handle as unknown as { ref?(): void; unref?(): void } | null)?.[keep ? "ref" : "unref"]?.();
}

/** The process's stdout and stderr lines in `log` (stderr lines that are log lines at their level). */
export function forwardOutput(child: ChildProcess, log: Logger): void {
  const budget = lineBudget(log);
  if (child.stdout)
    forwardLines(child.stdout, (line) => budget(() => log.info({ stream: "stdout" }, line)));
  if (child.stderr) forwardLines(child.stderr, (line) => budget(() => logLine(log, line)));
}

/** Lines a job process may log a second (a burst of twice that), stdout and stderr together. */
export const JOB_LOG_LINES_PER_SECOND = 100;

/**
 * Job code printing in a loop would fill the TaskManager's log: past the budget lines are
 * dropped, and counted in one warn line a second later.
 */
function lineBudget(log: Logger): (emit: () => void) => void {
  const rate = new RateLimit(JOB_LOG_LINES_PER_SECOND, 2 * JOB_LOG_LINES_PER_SECOND, "lines");
  let dropped = 0;
  const report = () => {
    log.warn(
      { dropped },
      `job process output: ${dropped} lines dropped (more than ${JOB_LOG_LINES_PER_SECOND} a second)`,
    );
    dropped = 0;
  };
  return (emit) => {
    if (rate.tryTake()) emit();
    else if (dropped++ === 0) setTimeout(report, 1000).unref();
  };
}

/** Calls `each` with every line of `stream`, cut to `MAX_LOG_LINE`. */
function forwardLines(stream: NodeJS.ReadableStream, each: (line: string) => void): void {
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = (lines.pop() ?? "").slice(-MAX_LOG_LINE);
    for (const line of lines) if (line.trim()) each(line.slice(0, MAX_LOG_LINE));
  });
}

const LEVELS: Record<number, "trace" | "debug" | "info" | "warn" | "error" | "fatal"> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

/** A job process's log line, at its level with its fields (and this TaskManager's), or as text. */
function logLine(log: Logger, line: string): void {
  try {
    const {
      level,
      msg,
      time: _t,
      pid: _p,
      hostname: _h,
      role: _r,
      ...fields
    } = JSON.parse(line) as Record<string, unknown>;
    const at = LEVELS[Number(level)];
    if (at && typeof msg === "string") {
      log[at]({ ...fields, from: "job-process" }, msg);
      return;
    }
  } catch {
    // not a log line of ours: the runtime's own output (a warning, a crash)
  }
  if (/ExperimentalWarning|--trace-warnings/.test(line)) return;
  log.warn({ stream: "stderr" }, line);
}
