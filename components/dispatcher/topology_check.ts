/**
 * The job structure a graph sandbox answers with is untrusted input (user code ran there and may
 * have written anything to its stdout): checked for shape and bounds, and for consistency with
 * itself, before a JobManager acts on it.
 */
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { ErrorCode, FlotillaError } from "../core/mod.ts";
import { type JobTopology, Partitioning, topologyAt } from "../dataflow/internal_mod.ts";

/** Flink's upper bound for maxParallelism (2^15). */
const MAX_PARALLELISM = 32_768;
const id = z.string().min(1).max(256);
const label = z.string().max(10_000);
const count = z.number().int().min(1).max(MAX_PARALLELISM);
const amount = z.number().finite().min(0);
const ms = z
  .number()
  .finite()
  .min(0)
  .max(365 * 24 * 3600 * 1000);
const attempts = z.number().int().min(0).or(z.literal(Number.POSITIVE_INFINITY));

const restartStrategy = z.discriminatedUnion("type", [
  z.object({ type: z.literal("none") }),
  z.object({ type: z.literal("fixed-delay"), attempts, delayMs: ms }),
  z.object({
    type: z.literal("exponential-delay"),
    initialDelayMs: ms.optional(),
    maxDelayMs: ms.optional(),
    multiplier: z.number().finite().min(1).max(1000).optional(),
    resetAfterMs: ms.optional(),
    attempts: attempts.optional(),
  }),
  z.object({
    type: z.literal("failure-rate"),
    maxFailures: attempts,
    intervalMs: ms,
    delayMs: ms,
  }),
]);

const resources = z.object({
  cpu: amount.optional(),
  memoryMb: amount.optional(),
  extended: z.record(id, amount).optional(),
});

const topologySchema = z.object({
  options: z.object({
    name: z.string().min(1).max(1000),
    parallelism: count,
    maxParallelism: count,
    checkpointing: z
      .object({
        intervalMs: ms.min(1),
        timeoutMs: ms.min(1),
        tolerableFailures: z.number().int().min(0),
      })
      .nullable(),
    restartStrategy,
    bufferTimeoutMs: ms,
    scheduler: z.enum(["default", "adaptive"]).optional(),
  }),
  vertices: z
    .array(
      z.object({
        id,
        name: label,
        parallelism: count,
        maxParallelism: count,
        fixedParallelism: z.boolean(),
        slotSharingGroup: id,
        resources,
        operators: z
          .array(z.object({ id, name: label, kind: z.string().min(1).max(100) }))
          .max(1000),
        source: z.object({ kind: z.string().min(1).max(100) }).optional(),
      }),
    )
    .min(1)
    .max(1000),
  edges: z
    .array(
      z.object({
        id,
        source: id,
        target: id,
        partitioning: z.enum(Object.values(Partitioning) as [Partitioning, ...Partitioning[]]),
        implicit: z.literal(true).optional(),
      }),
    )
    .max(10_000),
  slotSharingGroups: z
    .array(
      z.object({
        name: id,
        slots: count,
        profile: z.object({ cpu: amount, memoryMb: amount, extended: z.record(id, amount) }),
      }),
    )
    .max(1000),
});

/** `value` as a job structure a JobManager can act on, or a typed error naming what is wrong. */
export function checkedTopology(value: unknown, name: string): JobTopology {
  const parsed = topologySchema.safeParse(value);
  const bad = (why: string) =>
    new FlotillaError(
      ErrorCode.INVALID_ARGUMENT,
      `${name}: the graph sandbox answered with no valid job structure: ${why}`,
    );
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw bad(`${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const topology = parsed.data as JobTopology;
  const ids = new Set(topology.vertices.map((v) => v.id));
  if (ids.size !== topology.vertices.length) throw bad("two vertices share an id");
  if (topology.vertices.some((v) => v.parallelism > v.maxParallelism))
    throw bad("a vertex's parallelism is above its maxParallelism");
  // Its own rebuild at the parallelism it states must give it back: edges, groups and slots agree.
  let rebuilt: JobTopology;
  try {
    rebuilt = topologyAt(topology, {});
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (!isDeepStrictEqual(rebuilt, topology))
    throw bad("its edges or slot sharing groups do not follow from its vertices");
  return topology;
}
