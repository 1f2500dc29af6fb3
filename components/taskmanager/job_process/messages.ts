/**
 * The messages between a TaskManager and a job process (over `wire.ts`). The TaskManager trusts
 * nothing a job process sends (job code runs there and can write anything on its wire): every
 * message from it is parsed here, bounded, and names one of the process's own subtasks; the
 * TaskManager's side is typed only.
 */
import { z } from "zod";
import { TaskState } from "../../core/mod.ts";
import type { JobNatsSettings } from "../../security/mod.ts";

// ---- TaskManager -> job process ----------------------------------------------------------------

/** The process's job: sent once, first. */
export interface InitCall {
  t: "init";
  jobId: string;
  clusterId: string;
  /** The artifact's sha256 and bytes (imported from memory: the process may write no file). */
  artifact: string;
  bytes: Uint8Array;
  /** Where `env.secret` reads (the process may read the job secrets there, nothing else). */
  secretsDir: string;
  /** How job code connects to the cluster's NATS, or why it cannot. */
  jobNats: JobNatsSettings | string;
  /** The NATS server's max_payload, which the data plane's batches must fit. */
  maxPayload: number;
  /** How often the process sends its subtasks' counters. */
  metricsIntervalMs: number;
}

/** One subtask to set up (`id` names it from then on); answered `{ source }`. */
export interface DeployCall {
  t: "deploy";
  id: number;
  vertexId: string;
  subtask: number;
  attempt: number;
  args: Record<string, string>;
  /** The job's own secrets (`env.secret`). */
  secrets?: Record<string, string>;
  parallelism?: number;
  vertexParallelism?: Record<string, number>;
  /** The snapshot handles it restores from (fetched by `snapshot` calls, these only). */
  restore?: string[];
}

export type ToJobProcess =
  | InitCall
  | DeployCall
  | { t: "run"; id: number }
  | { t: "cancel"; id: number; reason: string }
  | { t: "trigger"; id: number; checkpointId: number; final: boolean }
  | { t: "complete"; id: number; checkpointId: number }
  /** A message on one of its subscriptions; `did` when it may be answered (`respond`). */
  | { t: "deliver"; sid: number; subject: string; data: Uint8Array; did?: number };

// ---- job process -> TaskManager ----------------------------------------------------------------

const id = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const checkpointId = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const text = z.string().max(4096);
const subject = z.string().min(1).max(512);
const bytes = z.instanceof(Uint8Array);
const metrics = z
  .record(z.string().max(128), z.number())
  .refine((m) => Object.keys(m).length <= 256, "at most 256 counters");
const taskState = z.enum(Object.values(TaskState) as [TaskState, ...TaskState[]]);

export const fromJobProcessSchema = z.discriminatedUnion("t", [
  z.strictObject({
    t: z.literal("state"),
    id,
    state: taskState,
    error: z.strictObject({ code: z.string().max(64), message: text }).optional(),
    metrics: metrics.optional(),
  }),
  z.strictObject({ t: z.literal("ended"), id }),
  z.strictObject({ t: z.literal("ack"), id, checkpointId, handle: subject, bytes: count }),
  z.strictObject({ t: z.literal("decline"), id, checkpointId, reason: text }),
  z.strictObject({ t: z.literal("sourceEnded"), id }),
  z.strictObject({ t: z.literal("metrics"), tasks: z.array(z.tuple([id, metrics])).max(4096) }),
  z.strictObject({ t: z.literal("sub"), sid: id, subject }),
  z.strictObject({ t: z.literal("unsub"), sid: id }),
  z.strictObject({ t: z.literal("pub"), subject, data: bytes }),
  z.strictObject({ t: z.literal("respond"), did: id, data: bytes }),
  // calls (with a rid)
  z.strictObject({ t: z.literal("store"), rid: id, id, checkpointId, bytes }),
  z.strictObject({
    t: z.literal("results"),
    rid: id,
    id,
    sinkId: z.string().min(1).max(256),
    values: z.array(z.unknown()).max(1_000_000),
    batchId: z.string().max(256).optional(),
  }),
  z.strictObject({ t: z.literal("snapshot"), rid: id, id, handle: z.string().min(1).max(1024) }),
  z.strictObject({
    t: z.literal("request"),
    rid: id,
    subject,
    data: bytes,
    timeout: z.number().int().min(1).max(60_000),
  }),
  z.strictObject({ t: z.literal("flush"), rid: id }),
]);
export type FromJobProcess = z.output<typeof fromJobProcessSchema>;

/**
 * A message from a job process, parsed. The data plane's publishes (most of what a job process
 * sends) are checked by hand, the same checks as the schema's, without its cost per batch.
 */
export function parseFromJobProcess(
  raw: unknown,
): { success: true; data: FromJobProcess } | { success: false; why: string } {
  const m = raw as Record<string, unknown>;
  if (
    m.t === "pub" &&
    typeof m.subject === "string" &&
    m.subject.length > 0 &&
    m.subject.length <= 512 &&
    m.data instanceof Uint8Array &&
    Object.keys(m).length === 3
  )
    return { success: true, data: m as FromJobProcess };
  const result = fromJobProcessSchema.safeParse(raw);
  if (result.success) return result;
  const issue = result.error.issues[0];
  return { success: false, why: `${issue?.path.join(".")} ${issue?.message}` };
}
