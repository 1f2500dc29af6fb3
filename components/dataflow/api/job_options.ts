/**
 * What a job declares about itself (`JobOptions`, the argument of `defineJob`) and the compiled
 * form with every default filled in, which the job graph and the runtime read.
 */
export type RestartStrategy =
  | { type: "none" }
  | { type: "fixed-delay"; attempts: number; delayMs: number }
  | {
      type: "exponential-delay";
      initialDelayMs?: number;
      maxDelayMs?: number;
      multiplier?: number;
      /** A run this long without failure resets the delay. */
      resetAfterMs?: number;
      /** @default unlimited */
      attempts?: number;
    }
  | { type: "failure-rate"; maxFailures: number; intervalMs: number; delayMs: number };

export interface CheckpointingOptions {
  /** Time between checkpoint triggers, ms. */
  intervalMs: number;
  /** A checkpoint not complete after this long is aborted. @default 60000 */
  timeoutMs?: number;
  /**
   * How many checkpoints in a row may expire before the attempt fails and the job restarts from
   * its latest checkpoint (Flink's tolerable-failed-checkpoints): what ends a stall. @default 3
   */
  tolerableFailures?: number;
}

export interface JobOptions {
  name: string;
  /** @default 1 */
  parallelism?: number;
  /** Upper bound of any rescale; the number of key groups. @default 128 */
  maxParallelism?: number;
  /** Periodic checkpoints; off when absent. */
  checkpointing?: CheckpointingOptions;
  /** @default exponential-delay with checkpointing, none without (as Flink) */
  restartStrategy?: RestartStrategy;
  /** How long a partly filled output buffer may wait before it is sent, ms. @default 50 */
  bufferTimeoutMs?: number;
  /**
   * `adaptive`: run with the slots there are, between a lower bound (1) and `parallelism`, and
   * rescale when TaskManagers come and go (Flink's adaptive scheduler). Operators without
   * `setParallelism` scale; PUT /jobs/:id/resource-requirements sets bounds per vertex.
   * @default the cluster's `jobmanager.scheduler` (default: `default`)
   */
  scheduler?: "default" | "adaptive";
}

export interface CompiledJobOptions {
  name: string;
  parallelism: number;
  maxParallelism: number;
  checkpointing: { intervalMs: number; timeoutMs: number; tolerableFailures: number } | null;
  restartStrategy: RestartStrategy;
  bufferTimeoutMs: number;
  /** The job's own choice; absent: the cluster's `jobmanager.scheduler`. */
  scheduler?: "default" | "adaptive";
}

export function compileJobOptions(options: JobOptions): CompiledJobOptions {
  const checkpointing = options.checkpointing
    ? {
        intervalMs: options.checkpointing.intervalMs,
        timeoutMs: options.checkpointing.timeoutMs ?? 60_000,
        tolerableFailures: options.checkpointing.tolerableFailures ?? 3,
      }
    : null;
  return {
    name: options.name,
    parallelism: options.parallelism ?? 1,
    maxParallelism: options.maxParallelism ?? 128,
    checkpointing,
    restartStrategy:
      options.restartStrategy ?? (checkpointing ? { type: "exponential-delay" } : { type: "none" }),
    bufferTimeoutMs: options.bufferTimeoutMs ?? 50,
    ...(options.scheduler ? { scheduler: options.scheduler } : {}),
  };
}
