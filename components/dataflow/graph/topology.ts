/**
 * A job graph's structure as plain data (no user functions): what the JobManager schedules with,
 * built where user code may run and sent as CBOR, and rescaled without running the job's code.
 */
import type { CompiledJobOptions } from "../api/job_options.ts";
import {
  applyVertexParallelism,
  edgePartitioning,
  invalid,
  type JobGraph,
  type SlotSharingGroupSpec,
} from "./job_graph.ts";
import type { Partitioning, ResourceSpec } from "./nodes.ts";

export interface TopologyOperator {
  id: string;
  name: string;
  kind: string;
}

/** A vertex of the job graph without its functions; a `JobVertex` is one. */
export interface TopologyVertex {
  id: string;
  name: string;
  parallelism: number;
  maxParallelism: number;
  /** Set by `setParallelism` on an operator of the chain: see `JobVertex.fixedParallelism`. */
  fixedParallelism: boolean;
  slotSharingGroup: string;
  resources: ResourceSpec;
  /** The chain, in order (after the source, when there is one). */
  operators: TopologyOperator[];
  /** Present iff the vertex starts with a source (a `Source` is one). */
  source?: { kind: string };
}

/** An edge of the job graph without its key selector; a `JobEdge` is one. */
export interface TopologyEdge {
  id: string;
  source: string;
  target: string;
  partitioning: Partitioning;
  /** The user chose no partitioning: forward at equal parallelism, rebalance otherwise. */
  implicit?: true;
}

/**
 * The job graph's structure: a `JobGraph` is assignable to it, so in-process callers pass one;
 * `topologyOf` makes the plain copy that survives CBOR, JSON and `structuredClone`.
 */
export interface JobTopology {
  readonly options: CompiledJobOptions;
  /** In topological order. */
  readonly vertices: TopologyVertex[];
  readonly edges: TopologyEdge[];
  readonly slotSharingGroups: SlotSharingGroupSpec[];
}

/** The data of `graph` (a `JobGraph` or a topology) and nothing else: no functions, no extra fields. */
export function topologyOf(graph: JobTopology | JobGraph): JobTopology {
  return {
    options: optionsOf(graph.options),
    vertices: graph.vertices.map((v) => ({
      id: v.id,
      name: v.name,
      parallelism: v.parallelism,
      maxParallelism: v.maxParallelism,
      fixedParallelism: v.fixedParallelism,
      slotSharingGroup: v.slotSharingGroup,
      resources: resourcesOf(v.resources),
      operators: v.operators.map(({ id, name, kind }) => ({ id, name, kind })),
      ...(v.source ? { source: { kind: v.source.kind } } : {}),
    })),
    edges: graph.edges.map((e) => ({
      id: e.id,
      source: e.source,
      target: e.target,
      partitioning: e.partitioning,
      ...(e.implicit ? { implicit: true as const } : {}),
    })),
    slotSharingGroups: graph.slotSharingGroups.map((g) => ({
      name: g.name,
      slots: g.slots,
      profile: {
        cpu: g.profile.cpu,
        memoryMb: g.profile.memoryMb,
        extended: { ...g.profile.extended },
      },
    })),
  };
}

/**
 * The topology of the same job with each vertex named in `vertexParallelism` at that parallelism:
 * what `job.graph({ ..., vertexParallelism })` gives, without running the job's code, with the
 * same errors. `base` is the job built at its default parallelism (a vertex not named keeps
 * base's). Vertices, ids and chains never depend on the overrides: `buildJobGraph` chains at the
 * default parallelism and applies the overrides after, so only parallelism, implicit edges'
 * partitioning and the groups' slot counts change.
 */
export function topologyAt(
  base: JobTopology,
  vertexParallelism: Record<string, number>,
): JobTopology {
  const job = base.options.name;
  const next = topologyOf(base);
  applyVertexParallelism(job, base.options.maxParallelism, next.vertices, vertexParallelism);
  const byId = new Map(next.vertices.map((v) => [v.id, v]));
  const vertex = (id: string) => {
    const v = byId.get(id);
    if (!v) throw invalid(job, `an edge names no vertex '${id}': the topology is malformed`);
    return v;
  };
  for (const e of next.edges)
    e.partitioning = edgePartitioning(
      job,
      e.implicit ? undefined : e.partitioning,
      vertex(e.source),
      vertex(e.target),
    );
  for (const g of next.slotSharingGroups)
    g.slots = Math.max(
      0,
      ...next.vertices.filter((v) => v.slotSharingGroup === g.name).map((v) => v.parallelism),
    );
  return next;
}

function optionsOf(o: CompiledJobOptions): CompiledJobOptions {
  return {
    name: o.name,
    parallelism: o.parallelism,
    maxParallelism: o.maxParallelism,
    checkpointing: o.checkpointing
      ? {
          intervalMs: o.checkpointing.intervalMs,
          timeoutMs: o.checkpointing.timeoutMs,
          tolerableFailures: o.checkpointing.tolerableFailures,
        }
      : null,
    restartStrategy: definedOnly(o.restartStrategy),
    bufferTimeoutMs: o.bufferTimeoutMs,
    ...(o.scheduler ? { scheduler: o.scheduler } : {}),
  };
}

function resourcesOf(r: ResourceSpec): ResourceSpec {
  return {
    ...(r.cpu !== undefined ? { cpu: r.cpu } : {}),
    ...(r.memoryMb !== undefined ? { memoryMb: r.memoryMb } : {}),
    ...(r.extended ? { extended: { ...r.extended } } : {}),
  };
}

/** A copy without keys set to undefined, which JSON drops and CBOR keeps (a round trip would differ). */
function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
