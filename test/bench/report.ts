/**
 * What every benchmark returns and how it is shown: a table with ratios to a baseline measured in
 * the same run, or with `--json` exactly one JSON object on stdout (DESIGN.md section 9).
 */
import { cpus } from "node:os";

export type Unit = "us" | "ms" | "s" | "ops/s" | "records/s" | "MB/s" | "MB";

export interface BenchResult {
  name: string;
  value: number;
  unit: Unit;
  /** Name of the result this one is compared to, measured in the same run. */
  baseline?: string;
  /** value / baseline value (for a latency lower is better, for a throughput higher). */
  ratio?: number;
}

export interface BenchReport {
  bench: string;
  machine: { cpus: number; node: string; runtime: "node" | "deno" };
  results: BenchResult[];
}

/** Fills `ratio` for every result that names a baseline present in the list. */
export function withRatios(results: BenchResult[]): BenchResult[] {
  const byName = new Map(results.map((r) => [r.name, r]));
  return results.map((r) => {
    const base = r.baseline ? byName.get(r.baseline) : undefined;
    return base && base.value !== 0 ? { ...r, ratio: r.value / base.value } : r;
  });
}

export function report(bench: string, results: BenchResult[]): BenchReport {
  const deno = (globalThis as { Deno?: unknown }).Deno !== undefined;
  return {
    bench,
    machine: { cpus: cpus().length, node: process.version, runtime: deno ? "deno" : "node" },
    results: withRatios(results),
  };
}

function fmt(value: number): string {
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
  return value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2);
}

export function formatTable(r: BenchReport): string {
  const rows = r.results.map((x) => [
    x.name,
    `${fmt(x.value)} ${x.unit}`,
    x.ratio === undefined ? "" : `${x.ratio.toFixed(2)}x ${x.baseline}`,
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i]!.length), 4));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  return [
    `${r.bench} (${r.machine.runtime} ${r.machine.node}, ${r.machine.cpus} cpus)`,
    line(["name", "value", "vs baseline"]),
    ...rows.map(line),
  ].join("\n");
}

/** Latency percentile of a sample in microseconds (sorts a copy). */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}
