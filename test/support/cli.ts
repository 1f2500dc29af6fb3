/** Runs the `flotilla` command as a user would (bin/flotilla.js in a child process) and captures it. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { JobId, JobState } from "../../components/core/mod.ts";
import type {
  ClusterOverviewWithVersion,
  CollectedResults,
  FlinkJobStatus,
  JobDetailsExtras,
  JobDetailsVertexInfo,
  JobOverview,
} from "../../components/protocol/mod.ts";
import { TOKEN_ENV } from "./rest_token.ts";

export const BIN = fileURLToPath(new URL("../../bin/flotilla.js", import.meta.url));
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function flotilla(
  args: string[],
  env: Record<string, string> = {},
  { timeoutMs = 300_000 }: { timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      // The test clusters' token, as a user who exported FLOTILLA_REST_TOKEN_FILE has it.
      env: { ...process.env, ...TOKEN_ENV, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** What `flotilla run --json` prints, a line each (components/cli/commands.ts's `run`). */
export type RunEvent =
  | { event: "unavailable"; message: string }
  | { event: "artifact"; artifact: string; bytes: number; uploaded: boolean }
  | { event: "submitted"; jobId: JobId; cluster: string }
  /** The job's details as Flink's `GET /jobs/:jid` has them, without plan and timestamps. */
  | {
      event: "status";
      jid: JobId;
      state: FlinkJobStatus;
      vertices: Pick<
        JobDetailsVertexInfo,
        "id" | "name" | "parallelism" | "status" | "tasks" | "metrics"
      >[];
      flotilla: JobDetailsExtras;
    }
  | {
      event: "ended";
      jid: JobId;
      state: FlinkJobStatus;
      error?: { code: string; message: string };
      results: CollectedResults;
    };

/** What `flotilla run --layout job --json` prints: a per-job stack (cluster_commands.ts). */
export type JobStackEvent =
  | { event: "stack"; project: string; taskmanagers: number; slots: number }
  /** The jobmanager's log lines, as it logged them. */
  | { event: "log"; service: string; msg?: string; state?: string; level?: number }
  | { event: "ended"; project: string; state: JobState; exitCode: number };

/** `flotilla cluster up --json`: where the cluster is and what it has. */
export interface ClusterUp {
  layout: string;
  project: string;
  cluster: string;
  rest: string;
  overview: ClusterOverviewWithVersion;
}

/** `flotilla list --json`: Flink's `GET /jobs/overview`. */
export interface JobList {
  jobs: JobOverview[];
}

/**
 * The JSON lines of a `--json` command, read as what that command prints: `RunEvent` for
 * `flotilla run` (the default), else the command's own shape (`JobList`, `JobDetailsInfo`, ...).
 */
export function events<E extends object = RunEvent>(stdout: string): E[] {
  return stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as E);
}

/** The events of one kind, in order: `eventsOf(events(stdout), "status")`. */
export function eventsOf<E extends { event: string }, K extends E["event"]>(
  all: E[],
  kind: K,
): Extract<E, { event: K }>[] {
  return all.filter((e): e is Extract<E, { event: K }> => e.event === kind);
}

/** The first event of one kind; throws, quoting the output, when there is none. */
export function eventOf<E extends { event: string }, K extends E["event"]>(
  all: E[],
  kind: K,
): Extract<E, { event: K }> {
  const found = eventsOf(all, kind)[0];
  if (!found) throw new Error(`no '${kind}' event in ${JSON.stringify(all).slice(0, 1000)}`);
  return found;
}
