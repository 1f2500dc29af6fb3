/**
 * Turns "subtask i of vertex v" into a runnable Task: its input channels, its record writer with
 * one partitioner per out edge, and its checkpoint callbacks. Where channels come from is the
 * only difference between the local executor (in-process) and TaskManagers (NATS).
 */
import { subjects } from "../../core/mod.ts";
import {
  type ChannelConnection,
  type ChannelReceiver,
  type ChannelSender,
  localChannel,
  natsChannelReceiver,
  natsChannelSender,
} from "../../rpc/mod.ts";
import type { JobEdge, JobGraph } from "../graph/job_graph.ts";
import { Partitioning } from "../graph/nodes.ts";
import type { Frame } from "../types.ts";
import type { TaskServices } from "./chain.ts";
import { createPartitioner } from "./partitioner.ts";
import { RecordWriter } from "./record_writer.ts";
import { Task, type TaskCheckpointing, type TaskDeployment } from "./task.ts";

/** The two ends of the channel from subtask `source` to subtask `target` of an edge. */
export interface ChannelFactory {
  sender(edge: JobEdge, source: number, target: number): ChannelSender<Frame>;
  receiver(edge: JobEdge, source: number, target: number): ChannelReceiver<Frame>;
}

/** Whether an edge connects these two subtasks (forward edges connect i to i only). */
export function connects(edge: JobEdge, source: number, target: number): boolean {
  return edge.partitioning !== Partitioning.FORWARD || source === target;
}

/** In-process channels; each pair is created by whichever end asks first. */
export function localChannels({ credits = 4 } = {}): ChannelFactory {
  const pairs = new Map<string, ReturnType<typeof localChannel<Frame>>>();
  const pair = (edge: JobEdge, s: number, t: number) => {
    const key = `${edge.id}:${s}->${t}`;
    let p = pairs.get(key);
    if (!p) {
      p = localChannel<Frame>({ credits, name: key });
      pairs.set(key, p);
    }
    return p;
  };
  return {
    sender: (edge, s, t) => pair(edge, s, t).sender,
    receiver: (edge, s, t) => pair(edge, s, t).receiver,
  };
}

/**
 * Channels over NATS, one subject per (edge, source subtask, target subtask):
 * `flotilla.<cluster>.data.<job>.<attempt>.<edge>-<source>.<target>`. The source subtask is part
 * of the edge token because every channel has its own sequence numbers and credit.
 */
export function natsChannels({
  nc,
  clusterId,
  jobId,
  attempt,
  credits = 4,
}: {
  nc: ChannelConnection;
  clusterId: string;
  jobId: string;
  attempt: number;
  credits?: number;
}): ChannelFactory {
  const subject = (edge: JobEdge, s: number, t: number) =>
    subjects.channel({ clusterId, jobId, attempt, edge: `${edge.id}-${s}`, targetSubtask: t });
  return {
    sender: (edge, s, t) => natsChannelSender<Frame>({ nc, subject: subject(edge, s, t) }),
    receiver: (edge, s, t) =>
      natsChannelReceiver<Frame>({ nc, subject: subject(edge, s, t), credits }),
  };
}

export interface DeployOptions {
  graph: JobGraph;
  jobId: string;
  vertexId: string;
  subtask: number;
  attempt: number;
  channels: ChannelFactory;
  services: TaskServices;
  checkpointing: TaskCheckpointing;
  restore?: TaskDeployment["restore"];
  onStateChange?: TaskDeployment["onStateChange"];
  /** Records per output batch and per source poll. @default 1000 */
  batchSize?: number;
}

export function deployTask({
  graph,
  vertexId,
  subtask,
  channels,
  batchSize = 1000,
  ...rest
}: DeployOptions): Task {
  const vertex = graph.vertex(vertexId);
  const inputs: ChannelReceiver<Frame>[] = [];
  for (const edge of vertex.inputs) {
    const upstream = graph.vertex(edge.source);
    for (let s = 0; s < upstream.parallelism; s++) {
      if (connects(edge, s, subtask)) inputs.push(channels.receiver(edge, s, subtask));
    }
  }
  const output = new RecordWriter(
    vertex.outputs.map((edge) => {
      const targets = graph.vertex(edge.target).parallelism;
      return {
        partitioner: createPartitioner(edge.partitioning, {
          subtask,
          targets,
          maxParallelism: vertex.maxParallelism,
          ...(edge.keySelector ? { keySelector: edge.keySelector } : {}),
        }),
        senders: Array.from({ length: targets }, (_, t) =>
          connects(edge, subtask, t) ? channels.sender(edge, subtask, t) : undefined,
        ),
      };
    }),
    { batchSize, bufferTimeoutMs: graph.options.bufferTimeoutMs },
  );
  return new Task({ graph, vertexId, subtask, inputs, output, batchSize, ...rest });
}
