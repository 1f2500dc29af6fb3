/**
 * One graph sandbox process: started before its request comes (a warm spare hides the runtime's
 * start, about a quarter of a second), asked once, then gone. It gets no environment (`env -i`,
 * whatever preloads this process's spawn would add, a test runner's NODE_OPTIONS for one), its
 * reply is bounded, and a deadline kills it.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { getPriority, setPriority } from "node:os";
import { ErrorCode, FlotillaError, plainCbor } from "../core/mod.ts";

/** Largest reply a sandbox may write (a graph's structure is kilobytes). */
const MAX_REPLY_BYTES = 16 * 1024 * 1024;
export const STDERR_TAIL = 2000;
const ENV = "/usr/bin/env";
const SANDBOX_NICENESS = 10;

export interface SandboxProcess {
  /** The files and directories it may read (fixed when it started). */
  readonly readable: readonly string[];
  /** Its process id (undefined when it could not start). */
  readonly pid: number | undefined;
  /** Sends the one request; resolves with its decoded reply, or a typed error naming why not. */
  ask(input: Uint8Array, name: string, timeoutMs: number): Promise<unknown>;
  kill(): void;
}

/**
 * A sandbox runs below the blocks' priority (10 nicer than this process): a flood of submissions
 * keeps the CPU busy building graphs, and the master's lease renewals and heartbeats (and NATS)
 * go first.
 */
function lowerPriority(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    setPriority(pid, Math.min(19, getPriority() + SANDBOX_NICENESS));
  } catch {
    // A platform without priorities: the sandbox runs at ours.
  }
}

/** Starts `process.execPath args` idle (it holds no reference: an unasked spare never keeps this process up). */
export function startSandboxProcess(args: string[], readable: readonly string[]): SandboxProcess {
  const [command, argv] = existsSync(ENV)
    ? [ENV, ["-i", process.execPath, ...args]]
    : [process.execPath, args];
  const child = spawn(command, argv, { env: {}, stdio: ["pipe", "pipe", "pipe"] });
  lowerPriority(child.pid);
  const out: Buffer[] = [];
  let size = 0;
  let stderr = "";
  let failure: FlotillaError | undefined;
  const fail = (error: FlotillaError) => {
    failure ??= error;
    child.kill("SIGKILL");
  };
  child.stdout.on("data", (chunk: Buffer) => {
    size += chunk.byteLength;
    if (size > MAX_REPLY_BYTES)
      fail(
        new FlotillaError(
          ErrorCode.INVALID_ARGUMENT,
          `the graph sandbox wrote more than ${MAX_REPLY_BYTES} bytes`,
        ),
      );
    else out.push(chunk);
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL * 2);
  });
  child.stdin.on("error", () => {}); // a sandbox that died early: its exit says why
  child.once("error", (err) =>
    fail(new FlotillaError(ErrorCode.INTERNAL, `cannot start the graph sandbox: ${err.message}`)),
  );
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal })),
  );
  const streams = [child.stdin, child.stdout, child.stderr];
  child.unref();
  for (const s of streams) (s as unknown as { unref?: () => void }).unref?.();
  return {
    readable,
    pid: child.pid,
    async ask(input, name, timeoutMs) {
      child.ref();
      for (const s of streams) (s as unknown as { ref?: () => void }).ref?.();
      const timer = setTimeout(
        () =>
          fail(
            new FlotillaError(
              ErrorCode.INVALID_ARGUMENT,
              `${name}: building its job graph took longer than ${timeoutMs} ms (dispatcher.graph-timeout): a job's main function must return its dataflow, not run or wait`,
            ),
          ),
        timeoutMs,
      );
      child.stdin.end(input);
      const { code, signal } = await closed;
      clearTimeout(timer);
      if (failure) throw failure;
      try {
        if (code !== 0) throw new Error(`exit ${code ?? signal}`);
        return plainCbor.decode(Buffer.concat(out));
      } catch (err) {
        const why = warningsDropped(stderr) || (err as Error).message;
        throw new FlotillaError(
          ErrorCode.INVALID_ARGUMENT,
          `${name}: the graph sandbox ended without an answer (${(err as Error).message}): ${why}`,
        );
      }
    },
    kill: () => child.kill("SIGKILL"),
  };
}

/** The sandbox's stderr without the runtime's permission-model warnings. */
function warningsDropped(stderr: string): string {
  return stderr
    .split("\n")
    .filter((line) => line.trim() && !/Warning:|--trace-warnings/.test(line))
    .join(" ")
    .slice(-STDERR_TAIL);
}
