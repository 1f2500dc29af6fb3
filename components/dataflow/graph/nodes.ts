/**
 * The logical graph the user API records while a job is defined (Flink's transformations): one
 * node per source, operator, sink, partitioning or union, in creation order. Creation order is
 * deterministic, so every process that runs the job's `build` gets the same nodes and ids.
 */
import type { OperatorFactory, Sink, Source } from "../types.ts";

export const Partitioning = {
  FORWARD: "forward",
  REBALANCE: "rebalance",
  HASH: "hash",
  BROADCAST: "broadcast",
} as const;
export type Partitioning = (typeof Partitioning)[keyof typeof Partitioning];

export interface ResourceSpec {
  /** CPU cores (fractions allowed). */
  cpu?: number;
  memoryMb?: number;
  /** Extended resources, e.g. `{ gpu: 1 }`. */
  extended?: Record<string, number>;
}

interface NodeBase {
  /** Position in creation order. */
  readonly index: number;
  name: string;
  /** A stable id the user pinned with `.uid()`; otherwise derived from name and position. */
  uid?: string;
  parallelism?: number;
  resources?: ResourceSpec;
  slotSharingGroup?: string;
}

export interface SourceNode extends NodeBase {
  kind: "source";
  source: Source<unknown>;
  /** Timestamps the source attaches itself. */
  eventTime: boolean;
}

export interface OperatorNode extends NodeBase {
  kind: "operator";
  /** What the plan shows: map, filter, process, window, ... */
  operator: string;
  input: StreamNode;
  factory: OperatorFactory;
  /** Keyed operators: the key selector of the keyBy in front of them. */
  keySelector?: (value: unknown) => unknown;
}

export interface SinkNode extends NodeBase {
  kind: "sink";
  input: StreamNode;
  sink: Sink<unknown>;
}

/** keyBy, rebalance, broadcast: no operator, only how records reach the next one. */
export interface PartitionNode extends NodeBase {
  kind: "partition";
  input: StreamNode;
  partitioning: Partitioning;
  keySelector?: (value: unknown) => unknown;
}

export interface UnionNode extends NodeBase {
  kind: "union";
  inputs: StreamNode[];
}

export type StreamNode = SourceNode | OperatorNode | SinkNode | PartitionNode | UnionNode;

/** A node before it has its index (the Omit distributes over the union). */
export type NewNode = StreamNode extends infer N
  ? N extends StreamNode
    ? Omit<N, "index">
    : never
  : never;

/** Collects the nodes of one job definition run. */
export class GraphRecorder {
  readonly nodes: StreamNode[] = [];

  add<N extends NewNode>(node: N): N & { index: number } {
    const full = { ...node, index: this.nodes.length };
    this.nodes.push(full as StreamNode);
    return full;
  }

  sinks(): SinkNode[] {
    return this.nodes.filter((n): n is SinkNode => n.kind === "sink");
  }
}
