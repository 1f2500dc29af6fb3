/**
 * Where the Dispatcher turns an artifact into its job's structure. `sandboxedGraphBuilder` (the
 * roles' default, `dispatcher.graph-sandbox: process`) imports the user's code in a child process
 * under Node's permission model: no environment, reads of flotilla's own code and the job's
 * secrets only (the artifact comes over stdin), no writes, no child processes, a deadline and a
 * heap limit; one process per job, started ahead as a warm spare. So job code
 * never runs in the process that holds the Dispatcher's credentials, and a job that loops or
 * grows while building its graph cannot stall the Dispatcher. `inProcessGraphBuilder` (`none`) is
 * for the embedded MiniCluster, which is one process of the user's anyway.
 */
import { realpathSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import {
  type Config,
  cbor,
  ErrorCode,
  FlotillaError,
  GRAPH_WORKER_COMMAND,
  InvalidConfigError,
  jobSecretFiles,
  type Logger,
  packageRootOf,
  permissionFlag,
} from "../core/mod.ts";
import {
  artifactHash,
  type GraphWorkerRequest,
  type JobTopology,
  loadArtifact,
  topologyOf,
} from "../dataflow/internal_mod.ts";
import { type SandboxProcess, STDERR_TAIL, startSandboxProcess } from "./sandbox_process.ts";
import { checkedTopology } from "./topology_check.ts";

export interface GraphBuildRequest {
  /** The artifact's sha256; `bytes` must hash to it. */
  artifact: string;
  bytes: Uint8Array;
  args: Record<string, string>;
  parallelism?: number;
  /** The job's own secrets, for `env.secret` while its graph is built. */
  secrets?: Record<string, string>;
  /**
   * A job already accepted (recovery, a new leader restarting it): it waits however long the
   * queue is, where a new submission past the queue's size is refused.
   */
  accepted?: boolean;
}

/** Builds a job's graph from its artifact and answers with its structure (plain data). */
export type GraphBuilder = (request: GraphBuildRequest) => Promise<JobTopology>;

const nameOf = (artifact: string) => `artifact ${artifact.slice(0, 12)}`;

/** In this process: the MiniCluster's way, and tests'. */
export function inProcessGraphBuilder(): GraphBuilder {
  return async ({ artifact, bytes, args, parallelism, secrets }) => {
    const job = await loadArtifact(bytes, { name: nameOf(artifact), expected: artifact });
    return topologyOf(
      job.graph({ args, ...(parallelism ? { parallelism } : {}), ...(secrets ? { secrets } : {}) }),
    );
  };
}

export interface GraphSandboxOptions {
  /** The flotilla executable this process runs (`process.argv[1]`): the sandbox runs it too. */
  entry: string;
  /** The jobs' secrets (`secrets.dir`); the cluster's own credentials there stay unreadable. */
  secretsDir: string;
  /** `dispatcher.graph-timeout`. */
  timeoutMs: number;
  /** The sandbox's V8 heap limit. @default 256 */
  memoryMb?: number;
  /** Sandboxes at once; more requests wait. @default 2 */
  concurrency?: number;
  /** Requests that may wait; more are refused with 429 TOO_MANY_REQUESTS. @default 8 */
  maxWaiting?: number;
  /** How long a new submission waits for its turn before a 429. @default 10000 */
  maxWaitMs?: number;
  log: Logger;
}

/** The builder `dispatcher.graph-sandbox` names, for a process started as `flotilla start <role>`. */
export function graphBuilderFrom(
  config: Pick<Config, "dispatcher.graph-sandbox" | "dispatcher.graph-timeout" | "secrets.dir">,
  log: Logger,
): GraphBuilder {
  if (config["dispatcher.graph-sandbox"] === "none") return inProcessGraphBuilder();
  const entry = process.argv[1];
  if (!entry)
    throw new InvalidConfigError(
      "dispatcher.graph-sandbox",
      "the graph sandbox runs the flotilla executable, and this process has none (process.argv[1]): set dispatcher.graph-sandbox: none",
    );
  return sandboxedGraphBuilder({
    entry,
    secretsDir: config["secrets.dir"],
    timeoutMs: config["dispatcher.graph-timeout"],
    log,
  });
}

/** In a child process under the permission model (see top). */
export function sandboxedGraphBuilder(options: GraphSandboxOptions): GraphBuilder {
  if ("Deno" in globalThis)
    throw new InvalidConfigError(
      "dispatcher.graph-sandbox",
      "the graph sandbox runs on Node.js (its permission model); under Deno set dispatcher.graph-sandbox: none",
    );
  const entry = realpathSync(options.entry);
  const code = packageRootOf(entry) ?? entry;
  const { memoryMb = 256, concurrency = 2, maxWaiting = 8, maxWaitMs = 10_000 } = options;
  const launch = (readable: string[]) =>
    startSandboxProcess(
      [
        permissionFlag(),
        ...readable.map((path) => `--allow-fs-read=${path}`),
        `--max-old-space-size=${memoryMb}`,
        entry,
        GRAPH_WORKER_COMMAND,
      ],
      readable,
    );
  // One process per job, never reused: a spare warms up while the current one works.
  let spare: SandboxProcess | undefined;
  const take = (): SandboxProcess => {
    const readable = [code, ...jobSecretFiles(options.secretsDir)];
    let sandbox = spare;
    spare = undefined;
    if (!sandbox || !isDeepStrictEqual(sandbox.readable, readable)) {
      if (sandbox) {
        sandbox.kill();
        options.log.debug({ readable }, "job secrets changed: the warm graph sandbox is replaced");
      }
      sandbox = launch(readable);
    }
    spare = launch(readable);
    return sandbox;
  };
  let running = 0;
  const waiting: (() => void)[] = [];
  // A slot freed goes straight to the next waiter, so no caller overtakes it. The queue has a
  // size: a flood of submissions is refused at once, not held (each holds its artifact's bytes).
  const slot = async (accepted: boolean) => {
    if (running < concurrency) {
      running++;
      return;
    }
    if (waiting.length >= maxWaiting && !accepted)
      throw new FlotillaError(
        ErrorCode.TOO_MANY_REQUESTS,
        `${waiting.length} job graphs are waiting to be built already: submit again shortly`,
      );
    await new Promise<void>((resolve, reject) => {
      const granted = () => {
        clearTimeout(timer);
        resolve();
      };
      // A new submission waits a bounded time, so its caller hears back while it still listens.
      const timer = accepted
        ? undefined
        : setTimeout(() => {
            waiting.splice(waiting.indexOf(granted), 1);
            reject(
              new FlotillaError(
                ErrorCode.TOO_MANY_REQUESTS,
                `job graphs were being built for ${maxWaitMs} ms before this one's turn: submit again shortly`,
              ),
            );
          }, maxWaitMs);
      waiting.push(granted);
    });
  };
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  return async (request) => {
    const name = nameOf(request.artifact);
    const hash = await artifactHash(request.bytes);
    if (hash !== request.artifact)
      throw new FlotillaError(
        ErrorCode.CONFLICT,
        `${name}: the bytes stored as artifact ${request.artifact} hash to ${hash}: refusing to load code that is not the artifact submitted`,
      );
    const input: GraphWorkerRequest = {
      bytes: request.bytes,
      artifact: request.artifact,
      name,
      args: request.args,
      ...(request.parallelism ? { parallelism: request.parallelism } : {}),
      ...(request.secrets ? { secrets: request.secrets } : {}),
      secretsDir: options.secretsDir,
    };
    await slot(request.accepted === true);
    try {
      const reply = await take().ask(cbor.encode(input), name, options.timeoutMs);
      return answerOf(reply, name);
    } finally {
      release();
    }
  };
}

/**
 * The sandbox's answer, which its user code could have written itself: a job structure that
 * passes `checkedTopology`, or its error, always a bad job (400) with a bounded message.
 */
function answerOf(reply: unknown, name: string): JobTopology {
  if (reply && typeof reply === "object" && "topology" in reply)
    return checkedTopology(reply.topology, name);
  const error = reply && typeof reply === "object" && "error" in reply ? reply.error : undefined;
  const message =
    error && typeof error === "object" && "message" in error && typeof error.message === "string"
      ? error.message.slice(0, STDERR_TAIL)
      : `${name}: the graph sandbox's answer is neither a job structure nor an error`;
  throw new FlotillaError(ErrorCode.INVALID_ARGUMENT, message);
}
