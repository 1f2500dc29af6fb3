/**
 * From recorded nodes to the job graph the runtime schedules: virtual nodes (keyBy, rebalance,
 * broadcast, union) become edge partitionings, operators chain into vertices where records can
 * pass by a plain call, ids are deterministic, and invalid jobs fail here with a clear error.
 */
import { ErrorCode, FlotillaError } from "../../core/mod.ts";
import {
  type CompiledJobOptions,
  compileJobOptions,
  type JobOptions,
  type RestartStrategy,
} from "../api/job_options.ts";
import type { OperatorFactory, Sink, Source } from "../types.ts";
import { type GraphRecorder, Partitioning, type ResourceSpec, type StreamNode } from "./nodes.ts";

export interface OperatorSpec {
  id: string;
  name: string;
  kind: string;
  factory?: OperatorFactory;
  sink?: Sink<unknown>;
}

export interface JobEdge {
  id: string;
  source: string;
  target: string;
  partitioning: Partitioning;
  /** The user chose no partitioning: forward at equal parallelism, rebalance otherwise. */
  implicit?: true;
  keySelector?: (value: unknown) => unknown;
}

export interface JobVertex {
  id: string;
  name: string;
  parallelism: number;
  maxParallelism: number;
  /**
   * Set by `setParallelism` (or the source itself) on an operator of the chain: the vertex keeps
   * it whatever the job's parallelism is, and the adaptive scheduler's bounds for it are [p, p]
   * until PUT /jobs/:id/resource-requirements changes them.
   */
  fixedParallelism: boolean;
  slotSharingGroup: string;
  resources: ResourceSpec;
  /** Present when the vertex starts with a source. */
  source?: Source<unknown>;
  /** The chain, in order (after the source, if any). */
  operators: OperatorSpec[];
  /** Keyed vertices: how the head operator keys records (state is kept per key). */
  keySelector?: (value: unknown) => unknown;
  inputs: JobEdge[];
  outputs: JobEdge[];
}

export interface SlotSharingGroupSpec {
  name: string;
  /** Slots the group needs: its largest vertex parallelism. */
  slots: number;
  /** What one slot of the group must offer: the sum over the group's vertices. */
  profile: Required<Pick<ResourceSpec, "cpu" | "memoryMb">> & { extended: Record<string, number> };
}

export interface JobGraph {
  readonly options: CompiledJobOptions;
  /** In topological order. */
  readonly vertices: JobVertex[];
  readonly edges: JobEdge[];
  readonly slotSharingGroups: SlotSharingGroupSpec[];
  vertex(id: string): JobVertex;
  /** The JSON plan (`flotilla plan`): everything but the functions. */
  plan(): JobPlan;
}

export interface JobPlan {
  name: string;
  parallelism: number;
  maxParallelism: number;
  checkpointing: CompiledJobOptions["checkpointing"];
  restartStrategy: RestartStrategy;
  vertices: Array<{
    id: string;
    name: string;
    parallelism: number;
    maxParallelism: number;
    slotSharingGroup: string;
    resources: ResourceSpec;
    operators: Array<{ id: string; name: string; kind: string }>;
    source?: Record<string, unknown>;
    sink?: Record<string, unknown>;
  }>;
  edges: Array<{ id: string; source: string; target: string; partitioning: Partitioning }>;
  slotSharingGroups: SlotSharingGroupSpec[];
}

export function invalid(job: string, message: string): FlotillaError {
  return new FlotillaError(ErrorCode.INVALID_ARGUMENT, `job '${job}': ${message}`);
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "") || "op";

type Physical = Exclude<StreamNode, { kind: "partition" } | { kind: "union" }>;
interface PhysicalInput {
  node: Physical;
  partitioning?: Partitioning;
  keySelector?: (value: unknown) => unknown;
}

/** Resolves virtual nodes down to the physical nodes feeding `node`, with their partitioning. */
function physicalInputs(node: StreamNode): PhysicalInput[] {
  if (node.kind === "partition") {
    return physicalInputs(node.input).map((i) => ({
      node: i.node,
      partitioning: node.partitioning,
      ...(node.keySelector ? { keySelector: node.keySelector } : {}),
    }));
  }
  if (node.kind === "union") return node.inputs.flatMap(physicalInputs);
  return [{ node }];
}

function inputsOf(node: Physical): PhysicalInput[] {
  return node.kind === "source" ? [] : physicalInputs(node.input);
}

function checkAcyclic(job: string, nodes: Physical[]): void {
  const state = new Map<Physical, "visiting" | "done">();
  const visit = (node: Physical, path: string[]): void => {
    if (state.get(node) === "done") return;
    if (state.get(node) === "visiting")
      throw invalid(job, `the dataflow has a cycle: ${[...path, node.name].join(" -> ")}`);
    state.set(node, "visiting");
    for (const input of inputsOf(node)) visit(input.node, [...path, node.name]);
    state.set(node, "done");
  };
  for (const node of nodes) visit(node, []);
}

/**
 * `vertexParallelism` sets vertices' parallelism by id once the chains are made, so every
 * override keeps the vertices (ids, chains) of the default parallelism; edges are then drawn
 * between the vertices as they run (an implicit forward between unequal ones is a rebalance).
 */
export function buildJobGraph(
  recorder: GraphRecorder,
  jobOptions: JobOptions,
  vertexParallelism: Record<string, number> = {},
): JobGraph {
  const options = compileJobOptions(jobOptions);
  const job = options.name;
  const physical = recorder.nodes.filter(
    (n): n is Physical => n.kind !== "partition" && n.kind !== "union",
  );
  const sinks = physical.filter((n) => n.kind === "sink");
  if (sinks.length === 0)
    throw invalid(job, "no sink: end at least one stream with .sink(...), e.g. .sink(sinks.log())");
  checkAcyclic(job, physical);

  // Keep what feeds a sink; a stream that goes nowhere is dropped, as in Flink.
  const live = new Set<Physical>();
  const mark = (node: Physical) => {
    if (live.has(node)) return;
    live.add(node);
    for (const input of inputsOf(node)) mark(input.node);
  };
  for (const sink of sinks) mark(sink);
  const nodes = physical.filter((n) => live.has(n));

  const parallelism = new Map<Physical, number>();
  for (const node of nodes) {
    const p = node.parallelism ?? options.parallelism;
    if (p > options.maxParallelism) {
      throw invalid(
        job,
        `parallelism ${p} of '${node.name}' is above maxParallelism ${options.maxParallelism}`,
      );
    }
    parallelism.set(node, p);
  }
  const group = (n: Physical) => n.slotSharingGroup ?? "default";
  const outDegree = new Map<Physical, number>();
  for (const node of nodes)
    for (const i of inputsOf(node)) outDegree.set(i.node, (outDegree.get(i.node) ?? 0) + 1);

  // Chain: one forward input, same parallelism and group, and the upstream feeds nothing else.
  const vertexOf = new Map<Physical, JobVertex>();
  const vertices: JobVertex[] = [];
  for (const node of nodes) {
    const inputs = inputsOf(node);
    const only = inputs.length === 1 ? inputs[0]! : undefined;
    const upstream = only ? vertexOf.get(only.node) : undefined;
    const chainable =
      only !== undefined &&
      upstream !== undefined &&
      (only.partitioning ?? Partitioning.FORWARD) === Partitioning.FORWARD &&
      parallelism.get(only.node) === parallelism.get(node) &&
      group(only.node) === group(node) &&
      outDegree.get(only.node) === 1;
    const id =
      node.uid ??
      `${node.index}-${slug(node.kind === "operator" ? node.operator : node.kind === "sink" ? `${node.sink.kind}-sink` : `${node.source.kind}-source`)}`;
    const spec: OperatorSpec | undefined =
      node.kind === "operator"
        ? { id, name: node.name, kind: node.operator, factory: node.factory }
        : node.kind === "sink"
          ? { id, name: node.name, kind: "sink", sink: node.sink }
          : undefined;
    if (chainable && spec) {
      upstream.operators.push(spec);
      if (node.parallelism !== undefined) upstream.fixedParallelism = true;
      upstream.name += ` -> ${node.name}`;
      upstream.resources = addResources(upstream.resources, node.resources);
      vertexOf.set(node, upstream);
      continue;
    }
    const vertex: JobVertex = {
      id,
      name: node.name,
      parallelism: parallelism.get(node)!,
      maxParallelism: options.maxParallelism,
      fixedParallelism: node.parallelism !== undefined,
      slotSharingGroup: group(node),
      resources: node.resources ?? {},
      operators: spec ? [spec] : [],
      inputs: [],
      outputs: [],
      ...(node.kind === "source" ? { source: node.source } : {}),
      ...(node.kind === "operator" && node.keySelector ? { keySelector: node.keySelector } : {}),
    };
    vertices.push(vertex);
    vertexOf.set(node, vertex);
  }
  applyVertexParallelism(job, options.maxParallelism, vertices, vertexParallelism);

  const edges: JobEdge[] = [];
  for (const node of nodes) {
    const target = vertexOf.get(node)!;
    for (const input of inputsOf(node)) {
      const source = vertexOf.get(input.node)!;
      if (source === target) continue;
      const edge: JobEdge = {
        id: `e${edges.length}`,
        source: source.id,
        target: target.id,
        partitioning: edgePartitioning(job, input.partitioning, source, target),
        ...(input.partitioning === undefined ? { implicit: true as const } : {}),
        ...(input.keySelector ? { keySelector: input.keySelector } : {}),
      };
      edges.push(edge);
      source.outputs.push(edge);
      target.inputs.push(edge);
    }
  }

  const slotSharingGroups = [...new Set(vertices.map((v) => v.slotSharingGroup))].map((name) => {
    const members = vertices.filter((v) => v.slotSharingGroup === name);
    const profile = members.reduce((sum, v) => addResources(sum, v.resources), {} as ResourceSpec);
    return {
      name,
      slots: Math.max(...members.map((v) => v.parallelism)),
      profile: {
        cpu: profile.cpu ?? 0,
        memoryMb: profile.memoryMb ?? 0,
        extended: profile.extended ?? {},
      },
    };
  });

  const byId = new Map(vertices.map((v) => [v.id, v]));
  if (byId.size !== vertices.length)
    throw invalid(job, "two operators share a uid; uids must be unique");
  return {
    options,
    vertices,
    edges,
    slotSharingGroups,
    vertex(id) {
      const v = byId.get(id);
      if (!v) throw new FlotillaError(ErrorCode.NOT_FOUND, `job '${job}' has no vertex '${id}'`);
      return v;
    },
    plan: () => planOf(options, vertices, edges, slotSharingGroups),
  };
}

type Sized = { id: string; name: string; parallelism: number };

/** The partitioning the user chose, or forward at equal parallelism and rebalance otherwise. */
export function edgePartitioning(
  job: string,
  chosen: Partitioning | undefined,
  source: Sized,
  target: Sized,
): Partitioning {
  const samePar = source.parallelism === target.parallelism;
  const partitioning = chosen ?? (samePar ? Partitioning.FORWARD : Partitioning.REBALANCE);
  if (partitioning === Partitioning.FORWARD && !samePar)
    throw invalid(
      job,
      `forward edge from '${source.name}' (${source.parallelism}) to '${target.name}' (${target.parallelism}) needs equal parallelism`,
    );
  return partitioning;
}

/** Sets the vertices' parallelism (in place) from `overrides` by vertex id, checked. */
export function applyVertexParallelism(
  job: string,
  maxParallelism: number,
  vertices: Sized[],
  overrides: Record<string, number>,
): void {
  const unknown = Object.keys(overrides).filter((id) => !vertices.some((v) => v.id === id));
  if (unknown.length > 0)
    throw invalid(
      job,
      `no vertex ${unknown.map((id) => `'${id}'`).join(", ")} to set the parallelism of; its vertices: ${vertices.map((v) => v.id).join(", ")}`,
    );
  for (const v of vertices) {
    // Own keys only: a vertex uid such as "constructor" must not read Object.prototype's.
    const p = Object.hasOwn(overrides, v.id) ? overrides[v.id] : undefined;
    if (p === undefined) continue;
    if (!Number.isInteger(p) || p < 1 || p > maxParallelism)
      throw invalid(
        job,
        `parallelism ${p} of vertex '${v.id}' must be a whole number 1..maxParallelism (${maxParallelism})`,
      );
    v.parallelism = p;
  }
}

function addResources(a: ResourceSpec, b: ResourceSpec | undefined): ResourceSpec {
  if (!b) return a;
  const extended: Record<string, number> = { ...a.extended };
  for (const [k, v] of Object.entries(b.extended ?? {})) extended[k] = (extended[k] ?? 0) + v;
  const out: ResourceSpec = {};
  if (a.cpu !== undefined || b.cpu !== undefined) out.cpu = (a.cpu ?? 0) + (b.cpu ?? 0);
  if (a.memoryMb !== undefined || b.memoryMb !== undefined)
    out.memoryMb = (a.memoryMb ?? 0) + (b.memoryMb ?? 0);
  if (Object.keys(extended).length) out.extended = extended;
  return out;
}

function planOf(
  options: CompiledJobOptions,
  vertices: JobVertex[],
  edges: JobEdge[],
  slotSharingGroups: SlotSharingGroupSpec[],
): JobPlan {
  return {
    name: options.name,
    parallelism: options.parallelism,
    maxParallelism: options.maxParallelism,
    checkpointing: options.checkpointing,
    restartStrategy: options.restartStrategy,
    vertices: vertices.map((v) => {
      const sink = v.operators.find((o) => o.sink)?.sink;
      return {
        id: v.id,
        name: v.name,
        parallelism: v.parallelism,
        maxParallelism: v.maxParallelism,
        slotSharingGroup: v.slotSharingGroup,
        resources: v.resources,
        operators: [
          ...(v.source ? [{ id: `${v.id}`, name: v.source.kind, kind: "source" }] : []),
          ...v.operators.map(({ id, name, kind }) => ({ id, name, kind })),
        ],
        ...(v.source ? { source: v.source.describe() } : {}),
        ...(sink ? { sink: sink.describe() } : {}),
      };
    }),
    edges: edges.map(({ id, source, target, partitioning }) => ({
      id,
      source,
      target,
      partitioning,
    })),
    slotSharingGroups,
  };
}
