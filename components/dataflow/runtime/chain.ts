/**
 * Builds a vertex's operator chain for one subtask: operators from their factories (or a sink
 * operator), each with its context, wired so one operator's output is a plain call into the next.
 */

import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../../core/mod.ts";
import type { JobGraph, JobVertex } from "../graph/job_graph.ts";
import { SinkOperator } from "../operators/sink.ts";
import type {
  Counter,
  KeyedBackend,
  OperatorContext,
  Output,
  RuntimeContext,
  StreamOperator,
  TimerService,
} from "../types.ts";

/** What the process running a task offers it (the local executor, or a TaskManager). */
export interface TaskServices {
  log: Logger;
  args: Record<string, string>;
  connectNats(servers?: string): Promise<NatsConnection>;
  publishResults(sinkId: string, values: unknown[], batchId?: string): Promise<void>;
  now?(): number;
}

export interface ChainedOperator {
  id: string;
  operator: StreamOperator;
  context: OperatorContext<unknown>;
}

export interface Chain {
  /** Where the task feeds records: the first operator (or the outputs, for a bare source). */
  head: Output<unknown>;
  operators: ChainedOperator[];
  counters: Map<string, Counter>;
}

class OperatorInput implements Output<unknown> {
  constructor(private readonly operator: StreamOperator) {}
  collect(value: unknown, timestamp?: number): void {
    this.operator.processElement(value, timestamp);
  }
  emitWatermark(watermark: number): void {
    this.operator.processWatermark(watermark);
  }
}

/** The counter `name` of a registry, created at zero on first use. */
export function counterIn(counters: Map<string, Counter>, name: string): Counter {
  let c = counters.get(name);
  if (!c) {
    let n = 0;
    c = {
      inc: (by = 1) => {
        n += by;
      },
      get: () => n,
    };
    counters.set(name, c);
  }
  return c;
}

export function runtimeContext(
  graph: JobGraph,
  vertex: JobVertex,
  ids: { jobId: string; operatorId: string; subtask: number; attempt: number },
  services: TaskServices,
  counters: Map<string, Counter>,
): RuntimeContext {
  const now = services.now ?? (() => Date.now());
  return {
    jobId: ids.jobId,
    jobName: graph.options.name,
    vertexId: vertex.id,
    operatorId: ids.operatorId,
    subtask: ids.subtask,
    parallelism: vertex.parallelism,
    maxParallelism: vertex.maxParallelism,
    attempt: ids.attempt,
    log: services.log.child({ vertex: vertex.id, operator: ids.operatorId, subtask: ids.subtask }),
    arg: (name) => services.args[name],
    now,
    counter: (name) => counterIn(counters, `${ids.operatorId}.${name}`),
    connectNats: (servers) => services.connectNats(servers),
    publishResults: (sinkId, values, batchId) => services.publishResults(sinkId, values, batchId),
  };
}

export function buildChain(
  graph: JobGraph,
  vertex: JobVertex,
  ids: { jobId: string; subtask: number; attempt: number },
  services: TaskServices,
  tail: Output<unknown>,
  keyed?: { backend: KeyedBackend; timers: TimerService },
): Chain {
  const counters = new Map<string, Counter>();
  const operators: ChainedOperator[] = [];
  let output = tail;
  for (let i = vertex.operators.length - 1; i >= 0; i--) {
    const spec = vertex.operators[i]!;
    const operator: StreamOperator = spec.sink
      ? new SinkOperator(spec.sink, { checkpointing: graph.options.checkpointing !== null })
      : spec.factory!();
    const base = runtimeContext(graph, vertex, { ...ids, operatorId: spec.id }, services, counters);
    const context: OperatorContext<unknown> = {
      ...base,
      output,
      ...(i === 0 && keyed ? { keyed: keyed.backend, timers: keyed.timers } : {}),
    };
    operators.unshift({ id: spec.id, operator, context });
    output = new OperatorInput(operator);
  }
  return { head: output, operators, counters };
}
