/**
 * Flink's `Status.JVM.*` process gauges, from what Node has: a Node process is not a JVM, so
 * only the gauges with a meaning here are given (README: which maps to which).
 */
import { getHeapStatistics } from "node:v8";
import { Gauge, type Registry } from "prom-client";
import { type FlinkScope, flinkMetricName } from "./names.ts";

export function registerProcessStatus(registry: Registry, scope: FlinkScope): void {
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name: flinkMetricName(scope, name),
      help,
      registers: [registry],
      collect() {
        this.set(value());
      },
    });
  gauge(
    "Status.JVM.Memory.Heap.Used",
    "V8 heap in use, bytes.",
    () => process.memoryUsage().heapUsed,
  );
  gauge(
    "Status.JVM.Memory.Heap.Committed",
    "V8 heap reserved, bytes.",
    () => process.memoryUsage().heapTotal,
  );
  gauge(
    "Status.JVM.Memory.Heap.Max",
    "The V8 heap's limit, bytes.",
    () => getHeapStatistics().heap_size_limit,
  );
  gauge(
    "Status.JVM.Memory.NonHeap.Used",
    "Memory outside the V8 heap held by JavaScript objects (ArrayBuffers, external), bytes.",
    () => {
      const m = process.memoryUsage();
      return m.external + m.arrayBuffers;
    },
  );
  gauge(
    "Status.ProcessTree.Memory.RSS",
    "Resident set size of the process, bytes.",
    () => process.memoryUsage().rss,
  );
  let last = { at: performance.now(), cpu: process.cpuUsage() };
  gauge("Status.JVM.CPU.Time", "CPU time the process used, nanoseconds.", () => {
    const { user, system } = process.cpuUsage();
    return (user + system) * 1000;
  });
  gauge(
    "Status.JVM.CPU.Load",
    "CPU the process used since the previous scrape, as a fraction of one core.",
    () => {
      const now = { at: performance.now(), cpu: process.cpuUsage() };
      const wallUs = (now.at - last.at) * 1000;
      const usedUs = now.cpu.user - last.cpu.user + (now.cpu.system - last.cpu.system);
      last = now;
      return wallUs > 0 ? usedUs / wallUs : 0;
    },
  );
}
