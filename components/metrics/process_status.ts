/**
 * Flink's `Status.*` process gauges, from what Node has: a Node process is not a JVM, so only
 * the gauges with a meaning here are given (README Metrics: which maps to which).
 */
import { getHeapStatistics } from "node:v8";
import { Gauge, type Registry } from "prom-client";
import { type FlinkScope, flinkMetricName } from "./names.ts";

/** CPU used between two reads, as a fraction of one core (Flink's Status.JVM.CPU.Load). */
class CpuLoad {
  #last = { at: performance.now(), cpu: process.cpuUsage() };

  read(): number {
    const now = { at: performance.now(), cpu: process.cpuUsage() };
    const wallUs = (now.at - this.#last.at) * 1000;
    const usedUs = now.cpu.user - this.#last.cpu.user + (now.cpu.system - this.#last.cpu.system);
    this.#last = now;
    return wallUs > 0 ? usedUs / wallUs : 0;
  }
}

const STATUS: readonly [name: string, help: string, value: (load: CpuLoad) => number][] = [
  ["Status.JVM.Memory.Heap.Used", "V8 heap in use, bytes.", () => process.memoryUsage().heapUsed],
  [
    "Status.JVM.Memory.Heap.Committed",
    "V8 heap reserved, bytes.",
    () => process.memoryUsage().heapTotal,
  ],
  [
    "Status.JVM.Memory.Heap.Max",
    "The V8 heap's limit, bytes.",
    () => getHeapStatistics().heap_size_limit,
  ],
  [
    "Status.JVM.Memory.NonHeap.Used",
    "Memory outside the V8 heap held by JavaScript objects (ArrayBuffers, external), bytes.",
    () => {
      const m = process.memoryUsage();
      return m.external + m.arrayBuffers;
    },
  ],
  [
    "Status.ProcessTree.Memory.RSS",
    "Resident set size of the process, bytes.",
    () => process.memoryUsage().rss,
  ],
  [
    "Status.JVM.CPU.Time",
    "CPU time the process used, nanoseconds.",
    () => {
      const { user, system } = process.cpuUsage();
      return (user + system) * 1000;
    },
  ],
  [
    "Status.JVM.CPU.Load",
    "CPU the process used since the previous read, as a fraction of one core.",
    (load) => load.read(),
  ],
];

/** The gauges, under `scope`, on `registry` (Prometheus reads its own CPU load window). */
export function registerProcessStatus(registry: Registry, scope: FlinkScope): void {
  const load = new CpuLoad();
  for (const [name, help, value] of STATUS)
    new Gauge({
      name: flinkMetricName(scope, name),
      help,
      registers: [registry],
      collect() {
        this.set(value(load));
      },
    });
}

const queryLoad = new CpuLoad();

/** The same figures by Flink's metric id (`Status.JVM.Memory.Heap.Used`), for the REST queries. */
export function processStatus(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, , value] of STATUS) out[name] = value(queryLoad);
  return out;
}
