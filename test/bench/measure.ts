/**
 * Latency and throughput of async calls, measured fairly against a baseline: every case is
 * warmed up, then the cases take turns in rounds (rotating who goes first), so a slow patch of
 * the machine lands on all of them instead of skewing one ratio.
 */
import { performance } from "node:perf_hooks";
import type { BenchResult } from "./report.ts";
import { percentile } from "./report.ts";

export interface Case {
  /** Shown in the table; the result names are `<name> p50`, `<name> p99`, `<name> throughput`. */
  name: string;
  /** One call; throws (or rejects) when the reply is not what was expected. */
  call(): Promise<unknown>;
}

export interface MeasureOptions {
  /** Sequential calls measured per case, over all rounds. @default 5000 */
  calls?: number;
  /** Calls per case before measuring anything (half sequential, half concurrent). @default 1000 */
  warmup?: number;
  /** Calls per case in the throughput measurement, over all rounds. @default 20000 */
  ops?: number;
  /** Calls kept in flight in the throughput measurement. @default 64 */
  inFlight?: number;
  /** How many turns the cases take. @default 5 */
  rounds?: number;
  /** The case every other one is compared to. @default the first case */
  baseline?: string;
  /** Progress lines (stderr in the runner). */
  progress?: (line: string) => void;
}

interface Tally {
  samples: number[];
  ops: number;
  ms: number;
}

async function sequential(c: Case, calls: number, samples?: number[]): Promise<void> {
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await c.call();
    samples?.push((performance.now() - start) * 1000);
  }
}

/** `ops` calls with `inFlight` of them outstanding at any time; returns the elapsed ms. */
async function concurrent(c: Case, ops: number, inFlight: number): Promise<number> {
  let started = 0;
  const worker = async () => {
    while (started < ops) {
      started++;
      await c.call();
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(inFlight, ops) }, worker));
  return performance.now() - start;
}

/** Measures every case and returns p50, p99 (us) and throughput (ops/s), each with its baseline. */
export async function measureCases(
  cases: Case[],
  {
    calls = 5000,
    warmup = 1000,
    ops = 20_000,
    inFlight = 64,
    rounds = 5,
    baseline = cases[0]?.name,
    progress = () => {},
  }: MeasureOptions = {},
): Promise<BenchResult[]> {
  const tallies = new Map<string, Tally>(
    cases.map((c) => [c.name, { samples: [], ops: 0, ms: 0 }]),
  );
  for (const c of cases) {
    progress(`warm-up: ${c.name}`);
    await sequential(c, Math.ceil(warmup / 2));
    await concurrent(c, Math.ceil(warmup / 2), inFlight);
  }
  const perRound = (total: number) => Math.max(1, Math.ceil(total / rounds));
  for (let round = 0; round < rounds; round++) {
    progress(`round ${round + 1}/${rounds}`);
    const order = cases.map((_, i) => cases[(i + round) % cases.length]!);
    for (const c of order) await sequential(c, perRound(calls), tallies.get(c.name)!.samples);
    for (const c of order) {
      const tally = tallies.get(c.name)!;
      const n = perRound(ops);
      tally.ms += await concurrent(c, n, inFlight);
      tally.ops += n;
    }
  }
  const results: BenchResult[] = [];
  for (const c of cases) {
    const { samples, ops: done, ms } = tallies.get(c.name)!;
    const base = c.name === baseline ? undefined : baseline;
    const rows: BenchResult[] = [
      { name: `${c.name} p50`, value: percentile(samples, 0.5), unit: "us" },
      { name: `${c.name} p99`, value: percentile(samples, 0.99), unit: "us" },
      { name: `${c.name} throughput`, value: (done / ms) * 1000, unit: "ops/s" },
    ];
    if (base) {
      rows[0]!.baseline = `${base} p50`;
      rows[1]!.baseline = `${base} p99`;
      rows[2]!.baseline = `${base} throughput`;
    }
    results.push(...rows);
  }
  return results;
}

/** A numeric `--flag N` (or `--flag=N`) from the benchmark's arguments. */
export function numberFlag(args: string[], flag: string, fallback: number): number {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const raw =
      arg === flag
        ? args[i + 1]
        : arg.startsWith(`${flag}=`)
          ? arg.slice(flag.length + 1)
          : undefined;
    if (raw === undefined) continue;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) {
      throw new Error(`${flag} must be a positive number, got ${JSON.stringify(raw)}`);
    }
    return value;
  }
  return fallback;
}
