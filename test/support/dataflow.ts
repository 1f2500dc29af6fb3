/**
 * Harness for testing operators, sources and sinks one at a time: a RuntimeContext with real
 * counters and collected results, and an Output that records what an operator emitted.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { silentLogger } from "../../components/core/mod.ts";
import { counterIn } from "../../components/dataflow/internal_mod.ts";
import type {
  Counter,
  Output,
  RuntimeContext,
  Timestamp,
} from "../../components/dataflow/types.ts";

export interface TestContext extends RuntimeContext {
  readonly counters: Map<string, Counter>;
  readonly results: Map<string, unknown[]>;
  /** Closes NATS connections the context opened. */
  close(): Promise<void>;
  /** Moves the clock `now()` returns (it starts at 0 when `manualClock` is set). */
  advanceClock(ms: number): void;
}

export function testContext(
  overrides: Partial<Omit<RuntimeContext, "arg">> & {
    args?: Record<string, string>;
    natsUrl?: string;
    manualClock?: boolean;
  } = {},
): TestContext {
  const { args = {}, natsUrl, manualClock = false, ...rest } = overrides;
  const counters = new Map<string, Counter>();
  const results = new Map<string, unknown[]>();
  const connections: NatsConnection[] = [];
  const batches = new Set<string>();
  let clock = 0;
  return {
    counters,
    results,
    jobId: "0123456789abcdef0123456789abcdef",
    jobName: "test",
    vertexId: "v0",
    operatorId: "op0",
    subtask: 0,
    parallelism: 1,
    maxParallelism: 128,
    attempt: 0,
    log: silentLogger,
    arg: (name) => args[name],
    now: () => (manualClock ? clock : Date.now()),
    counter: (name) => counterIn(counters, name),
    async connectNats(servers) {
      const url = servers ?? natsUrl;
      if (!url) throw new Error("testContext: no NATS url (pass natsUrl)");
      const nc = await connect({ servers: url });
      connections.push(nc);
      return nc;
    },
    async publishResults(sinkId, values, batchId) {
      if (batchId !== undefined) {
        if (batches.has(`${sinkId}/${batchId}`)) return;
        batches.add(`${sinkId}/${batchId}`);
      }
      const list = results.get(sinkId) ?? [];
      list.push(...values);
      results.set(sinkId, list);
    },
    async close() {
      await Promise.all(connections.map((nc) => nc.close()));
    },
    advanceClock(ms) {
      clock += ms;
    },
    ...rest,
  };
}

export interface Emitted<T> {
  records: { value: T; timestamp: Timestamp | undefined }[];
  watermarks: Timestamp[];
  values(): T[];
}

export function collectingOutput<T>(): Output<T> & Emitted<T> {
  const records: { value: T; timestamp: Timestamp | undefined }[] = [];
  const watermarks: Timestamp[] = [];
  return {
    records,
    watermarks,
    values: () => records.map((r) => r.value),
    collect: (value, timestamp) => void records.push({ value, timestamp }),
    emitWatermark: (wm) => void watermarks.push(wm),
  };
}
