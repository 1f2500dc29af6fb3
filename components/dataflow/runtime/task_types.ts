/**
 * What a task is given and what it reports: its deployment (graph, channels, services,
 * checkpoint hooks), its states, and the snapshot it takes at a barrier.
 */
import type { FlotillaError, TaskState } from "../../core/mod.ts";

export { TaskState } from "../../core/mod.ts";

import type { ChannelReceiver } from "../../rpc/mod.ts";
import type { JobGraph } from "../graph/job_graph.ts";
import type { Frame, KeyedSnapshot } from "../types.ts";
import type { TaskServices } from "./chain.ts";
import type { RecordWriter } from "./record_writer.ts";

/** What a task snapshots at a barrier; CBOR-encoded into the snapshot store. */
export interface TaskSnapshot {
  source?: unknown;
  keyed?: KeyedSnapshot;
  operators: Record<string, unknown>;
}

export interface TaskCheckpointing {
  /** Stores an encoded snapshot; returns its handle (e.g. a blob key). */
  store(checkpointId: number, bytes: Uint8Array): Promise<string>;
  /** Tells the coordinator the snapshot is stored. */
  acknowledge(checkpointId: number, handle: string, bytes: number): void;
  /** A source task's input ended; with checkpointing the coordinator then takes a final checkpoint. */
  sourceEnded(): void;
  /** Failing to store is reported, not thrown: the coordinator aborts that checkpoint. */
  decline(checkpointId: number, reason: string): void;
}

export interface TaskDeployment {
  graph: JobGraph;
  jobId: string;
  vertexId: string;
  subtask: number;
  attempt: number;
  /** Input channels, in edge order then upstream subtask order. */
  inputs: ChannelReceiver<Frame>[];
  output: RecordWriter;
  services: TaskServices;
  checkpointing: TaskCheckpointing;
  /** Snapshots of every subtask of this vertex at the restored checkpoint, by old subtask index. */
  restore?: () => Promise<(TaskSnapshot | undefined)[]>;
  /** Records per source poll. @default 1000 */
  batchSize?: number;
  onStateChange?(state: TaskState, error?: FlotillaError): void;
}
