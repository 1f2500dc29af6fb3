/**
 * `defineJob(options, build)`: a job is its options plus a build function that records the
 * dataflow. Nothing runs at definition; every process that needs the graph (the CLI, the
 * JobManager, each TaskManager) calls `graph()` and gets the same one.
 */
import { readFileSync } from "node:fs";
import { ErrorCode, FlotillaError, isClusterCredentialName } from "../../core/mod.ts";
import { buildJobGraph, type JobGraph } from "../graph/job_graph.ts";
import { GraphRecorder } from "../graph/nodes.ts";
import { jobRuntimeSettings } from "../runtime/job_runtime_settings.ts";
import type { Source } from "../types.ts";
import type { JobOptions } from "./job_options.ts";
import { DataStream } from "./stream.ts";

export interface GraphInput {
  /** Job arguments, read with `env.arg(name)`. */
  args?: Record<string, string>;
  /** Overrides the job's default parallelism (the CLI's `--parallelism`). */
  parallelism?: number;
  /**
   * Per-vertex parallelism by vertex id, applied after chaining (so the vertices, their ids and
   * chains stay those of the default parallelism): what the adaptive scheduler runs each vertex
   * at, and what TaskManagers rebuild. Each must be 1..maxParallelism.
   */
  vertexParallelism?: Record<string, number>;
  /** The job's own secrets, submitted with it: `env.secret(name)` reads these first. */
  secrets?: Record<string, string>;
}

export interface JobDefinition {
  readonly kind: "flotilla.job";
  readonly options: JobOptions;
  /** Runs `build` and compiles the job graph. Throws a clear error for an invalid job. */
  graph(input?: GraphInput): JobGraph;
}

export class JobDefinitionError extends FlotillaError {
  override name = "JobDefinitionError";
  constructor(message: string) {
    super(ErrorCode.INVALID_ARGUMENT, message);
  }
}

/** What `build` receives: sources and job arguments. */
export class JobEnv {
  readonly #recorder: GraphRecorder;
  readonly #args: Record<string, string>;
  readonly #secrets: Record<string, string>;

  constructor(
    recorder: GraphRecorder,
    args: Record<string, string>,
    secrets: Record<string, string> = {},
  ) {
    this.#recorder = recorder;
    this.#args = args;
    this.#secrets = secrets;
  }

  source<T>(source: Source<T>): DataStream<T> {
    const node = this.#recorder.add({
      kind: "source",
      name: source.kind,
      source: source as Source<unknown>,
      eventTime: false,
      ...(source.parallelism ? { parallelism: source.parallelism } : {}),
    });
    return new DataStream<T>(this.#recorder, node, false);
  }

  /** A job argument (`--arg name=value`); without a fallback a missing one is an error. */
  arg(name: string, fallback?: string): string {
    const value = this.#args[name] ?? fallback;
    if (value === undefined) {
      throw new JobDefinitionError(`job argument '${name}' is missing: pass --arg ${name}=<value>`);
    }
    return value;
  }

  /**
   * A secret of this job: one submitted with it (`flotilla run --secret name=file`, readable by
   * this job only), else one the deployment mounted as a file: `/run/secrets/<name>` (compose
   * `secrets:`), or under the config key `secrets.dir`. Read where the graph is built (JobManager
   * and every TaskManager), never passed through job arguments, REST or logs. Trailing newlines
   * are trimmed. The cluster's own credentials (`rest-*`, `nats-*`, `tls-*`, `metrics-*`,
   * `prometheus-*`), mounted in the same directory, are not a job's secrets: asking for one is an
   * error.
   */
  secret(name: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(name))
      throw new JobDefinitionError(
        `bad secret name ${JSON.stringify(name)}: use letters, digits, _ . -`,
      );
    if (isClusterCredentialName(name))
      throw new JobDefinitionError(
        `secret '${name}' is one of the cluster's own credentials (rest-*, nats-*, tls-*, metrics-*, prometheus-* are reserved), not a job's: name the job's secret otherwise`,
      );
    const own = Object.hasOwn(this.#secrets, name) ? this.#secrets[name] : undefined;
    if (own !== undefined) return own.replace(/\r?\n$/, "");
    const dir = jobRuntimeSettings().secretsDir;
    try {
      return readFileSync(`${dir}/${name}`, "utf8").replace(/\r?\n$/, "");
    } catch {
      throw new JobDefinitionError(
        `secret '${name}' was not submitted with the job (flotilla run --secret ${name}=<file>) and is not in ${dir}: declare it under secrets: in the compose file (or set secrets.dir, FLOTILLA_SECRETS_DIR)`,
      );
    }
  }
}

function checkOptions(options: JobOptions): void {
  if (!options || typeof options.name !== "string" || !options.name.trim()) {
    throw new JobDefinitionError("defineJob needs options with a non-empty 'name'");
  }
  const { parallelism = 1, maxParallelism = 128 } = options;
  if (!Number.isInteger(parallelism) || parallelism < 1) {
    throw new JobDefinitionError(
      `job '${options.name}': parallelism must be a whole number >= 1, got ${parallelism}`,
    );
  }
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > 32768) {
    throw new JobDefinitionError(
      `job '${options.name}': maxParallelism must be 1..32768, got ${maxParallelism}`,
    );
  }
  if (options.scheduler !== undefined && !["default", "adaptive"].includes(options.scheduler)) {
    throw new JobDefinitionError(
      `job '${options.name}': scheduler must be "default" or "adaptive", got ${JSON.stringify(options.scheduler)}`,
    );
  }
  const interval = options.checkpointing?.intervalMs;
  if (interval !== undefined && !(interval >= 10)) {
    throw new JobDefinitionError(
      `job '${options.name}': checkpointing.intervalMs must be >= 10 ms, got ${interval}`,
    );
  }
  const tolerable = options.checkpointing?.tolerableFailures;
  if (tolerable !== undefined && !(Number.isSafeInteger(tolerable) && tolerable >= 0)) {
    throw new JobDefinitionError(
      `job '${options.name}': checkpointing.tolerableFailures must be a whole number >= 0, got ${tolerable}`,
    );
  }
}

export function defineJob(options: JobOptions, build: (env: JobEnv) => unknown): JobDefinition {
  checkOptions(options);
  if (typeof build !== "function") {
    throw new JobDefinitionError(
      `job '${options.name}': defineJob needs a build function (env) => ...`,
    );
  }
  return {
    kind: "flotilla.job",
    options,
    graph({ args = {}, parallelism, vertexParallelism, secrets } = {}) {
      const effective = parallelism === undefined ? options : { ...options, parallelism };
      checkOptions(effective);
      const recorder = new GraphRecorder();
      build(new JobEnv(recorder, args, secrets));
      return buildJobGraph(recorder, effective, vertexParallelism);
    },
  };
}

export function isJobDefinition(value: unknown): value is JobDefinition {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as JobDefinition).kind === "flotilla.job" &&
    typeof (value as JobDefinition).graph === "function"
  );
}
