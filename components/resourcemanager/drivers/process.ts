/**
 * The process driver: one local child process per TaskManager the RM asks for, told its id and
 * resources through the environment its config reads (`taskmanager.id`, `.slots`, `.cpu`,
 * `.memory-mb`, `.extended-resources`). Stopping sends SIGTERM, then SIGKILL after a grace
 * period; `stop()` (and the exit of this process) ends every child it started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  ErrorCode,
  FlotillaError,
  InvalidArgumentError,
  type Logger,
  newTaskManagerId,
  silentLogger,
  type TaskManagerId,
} from "../../core/mod.ts";
import { covers, describeProfile, isAny, profile as makeProfile } from "../profile.ts";
import type { ResourceDriver, ResourceProfile } from "../types.ts";
import { tooManyTaskManagers } from "./limits.ts";
import { taskManagerEnv } from "./taskmanager_env.ts";

export interface ProcessDriverOptions {
  /** The TaskManager command line, e.g. `[process.execPath, "bin/flotilla.js", "start", "taskmanager"]`. */
  command: string[];
  /**
   * Environment for every TaskManager (its config keys' env names: NATS url, cluster id, ...), over
   * this process's. @default {}
   */
  env?: Record<string, string>;
  /** Start from this process's environment. @default true */
  inheritEnv?: boolean;
  /** @default this process's working directory */
  cwd?: string;
  /** What a TaskManager asked for with the ANY profile gets. @default 1 cpu, 1024 MB */
  defaultProfile?: ResourceProfile;
  /** The largest TaskManager this machine can run; bigger profiles are not startable. @default no limit */
  maxProfile?: ResourceProfile;
  /** Most TaskManager processes at once. @default 16 */
  maxTaskManagers?: number;
  /** Time between SIGTERM and SIGKILL. @default 5000 */
  stopGraceMs?: number;
  /** Children's stdout and stderr: inherited, written to `log` line by line, or dropped. @default "inherit" */
  output?: "inherit" | "log" | "ignore";
  /** Called when a TaskManager process has exited, for whatever reason. */
  onExit?: (tm: RunningTaskManager, code: number | null, signal: NodeJS.Signals | null) => void;
  log?: Logger;
}

export interface RunningTaskManager {
  tmId: TaskManagerId;
  pid: number;
  profile: ResourceProfile;
}

export interface ProcessDriver extends ResourceDriver {
  readonly kind: "process";
  /** The children alive now. */
  running(): RunningTaskManager[];
  stop(): Promise<void>;
}

interface Child extends RunningTaskManager {
  proc: ChildProcess;
  exited: Promise<void>;
}

function forwardLines(child: ChildProcess, tmId: TaskManagerId, log: Logger): void {
  for (const [stream, readable] of [
    ["stdout", child.stdout],
    ["stderr", child.stderr],
  ] as const) {
    let rest = "";
    readable?.setEncoding("utf8");
    readable?.on("data", (chunk: string) => {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) if (line) log.info({ tmId, stream }, line);
    });
  }
}

export function processDriver({
  command,
  env = {},
  inheritEnv = true,
  cwd,
  defaultProfile = makeProfile(1, 1024),
  maxProfile,
  maxTaskManagers = 16,
  stopGraceMs = 5000,
  output = "inherit",
  onExit,
  log = silentLogger,
}: ProcessDriverOptions): ProcessDriver {
  const [file, ...args] = command;
  if (!file) {
    throw new InvalidArgumentError("processDriver needs a command: the TaskManager's command line");
  }
  const children = new Map<TaskManagerId, Child>();
  const killAll = () => {
    for (const child of children.values()) child.proc.kill("SIGKILL");
  };
  let hooked = false;

  async function stopChild(child: Child): Promise<void> {
    child.proc.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), stopGraceMs);
    });
    if ((await Promise.race([child.exited, grace])) === "late") {
      log.warn({ tmId: child.tmId, pid: child.pid }, "TaskManager ignored SIGTERM; killing it");
      child.proc.kill("SIGKILL");
      await child.exited;
    }
    clearTimeout(timer);
  }

  return {
    kind: "process",
    canStart(p) {
      if (children.size >= maxTaskManagers) return false;
      return !maxProfile || covers(maxProfile, isAny(p) ? defaultProfile : p);
    },
    async startTaskManager(requested) {
      if (children.size >= maxTaskManagers)
        throw tooManyTaskManagers("process", children.size, maxTaskManagers);
      const p = isAny(requested) ? defaultProfile : requested;
      const tmId = newTaskManagerId();
      const proc = spawn(file, args, {
        cwd,
        // Passing this process's environment on is no config read: the child compiles its own.
        env: { ...(inheritEnv ? process.env : {}), ...env, ...taskManagerEnv(tmId, p) },
        stdio: ["ignore", output === "log" ? "pipe" : output, output === "log" ? "pipe" : output],
      });
      const exited = new Promise<void>((resolve) => {
        proc.once("exit", (code, signal) => {
          children.delete(tmId);
          log.info({ tmId, pid: proc.pid, code, signal }, "TaskManager process exited");
          resolve();
          onExit?.({ tmId, pid: proc.pid ?? -1, profile: p }, code, signal);
        });
      });
      children.set(tmId, { tmId, pid: proc.pid ?? -1, profile: p, proc, exited });
      await new Promise<void>((resolve, reject) => {
        proc.once("spawn", resolve);
        proc.once("error", (err) => {
          children.delete(tmId);
          reject(
            new FlotillaError(
              ErrorCode.UNAVAILABLE,
              `cannot start TaskManager process ${JSON.stringify(command)}: ${err.message}`,
            ),
          );
        });
      });
      if (output === "log") forwardLines(proc, tmId, log);
      if (!hooked) {
        hooked = true;
        process.once("exit", killAll);
      }
      log.info({ tmId, pid: proc.pid, profile: describeProfile(p) }, "TaskManager process started");
    },
    async stopTaskManager(tmId) {
      const child = children.get(tmId);
      if (!child) return false;
      await stopChild(child);
      return true;
    },
    running: () => [...children.values()].map(({ tmId, pid, profile }) => ({ tmId, pid, profile })),
    async stop() {
      await Promise.all([...children.values()].map(stopChild));
      if (hooked) process.off("exit", killAll);
      hooked = false;
    },
  };
}
