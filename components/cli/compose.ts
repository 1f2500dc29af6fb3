/**
 * Compose from the CLI, through the `docker-compose` npm package: `flotilla cluster up|down|ps|logs`
 * for the layouts under compose/, and `run --target compose-job` (a per-job stack whose exit code
 * is the job's). Works with Compose v2 (`docker compose`) or v1 (`docker-compose`), whichever
 * this machine has.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as Compose from "docker-compose";
import { ErrorCode, FlotillaError } from "../core/mod.ts";

export const LAYOUTS = ["standalone", "session", "job", "elastic", "ha"] as const;
export type Layout = (typeof LAYOUTS)[number];

/** The flotilla package's root, from the sources or from dist/ alike. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && /"name":\s*"flotilla"/.test(readFileSync(pkg, "utf8"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the flotilla package root");
    dir = up;
  }
}

/**
 * The compose file(s) of a layout: `ha` is standalone.yml with the ha.yml overlay; `tls` adds
 * each file's TLS overlay after them, `<name>-tls.yml` (for ha: standalone-tls.yml, ha-tls.yml).
 */
export function composeFile(layout: string, tls = false): string[] {
  if (!(LAYOUTS as readonly string[]).includes(layout))
    throw Object.assign(
      new FlotillaError(
        ErrorCode.INVALID_ARGUMENT,
        `bad --layout ${JSON.stringify(layout)}: use ${LAYOUTS.join(", ")}`,
      ),
      { usage: true },
    );
  const names = layout === "ha" ? ["standalone", "ha"] : [layout];
  return [...names, ...(tls ? names.map((name) => `${name}-tls`) : [])].map((name) =>
    join(packageRoot(), "compose", `${name}.yml`),
  );
}

let detected: Compose.IDockerComposeExecutableOptions | undefined;

/** `docker compose` (v2) when the docker CLI has it, else `docker-compose` (v1). */
export function composeExecutable(): Compose.IDockerComposeExecutableOptions {
  if (detected) return detected;
  const ok = (cmd: string, args: string[]) =>
    spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
  if (ok("docker", ["compose", "version"])) detected = { executablePath: "docker" };
  else if (ok("docker-compose", ["version"])) detected = { standalone: true };
  else
    throw new FlotillaError(
      ErrorCode.UNAVAILABLE,
      "neither `docker compose` (v2) nor `docker-compose` (v1) is installed: install Docker Compose",
    );
  return detected;
}

export interface ComposeCall {
  layout: Layout | string;
  project: string;
  /** With the TLS overlay. */
  tls?: boolean;
  env?: Record<string, string>;
  /** Receives the output of compose (and, with `up` attached, of the containers). */
  onOutput?: (chunk: string) => void;
}

/** Compose's result: rejects with a typed error naming the command and compose's last words. */
export async function compose<R extends Compose.IDockerComposeResult>(
  call: ComposeCall,
  run: (lib: typeof Compose, options: Compose.IDockerComposeOptions) => Promise<R>,
): Promise<R> {
  const lib = await import("docker-compose");
  const options: Compose.IDockerComposeOptions = {
    config: composeFile(call.layout, call.tls),
    cwd: packageRoot(),
    executable: composeExecutable(),
    composeOptions: [
      ["-p", call.project],
      ["--ansi", "never"],
    ],
    env: {
      // down/ps/logs of a per-job stack need no artifact, but the file requires the variable.
      ...(call.layout === "job" ? { FLOTILLA_JOB_ARTIFACT: "/dev/null" } : {}),
      ...process.env,
      ...call.env,
    },
    ...(call.onOutput ? { callback: (chunk: Buffer) => call.onOutput!(chunk.toString()) } : {}),
  };
  try {
    return await run(lib, options);
  } catch (err) {
    const result = err as Partial<Compose.IDockerComposeResult> & Error;
    if (typeof result.exitCode !== "number") throw err;
    return result as unknown as R;
  }
}

export function failed(what: string, result: Compose.IDockerComposeResult): FlotillaError {
  const last = `${result.err}\n${result.out}`.trim().split("\n").slice(-3).join(" | ");
  return new FlotillaError(ErrorCode.INTERNAL, `${what} failed (exit ${result.exitCode}): ${last}`);
}
