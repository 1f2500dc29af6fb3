/**
 * `npm run bench -- observe`: what observing a cluster costs.
 * (a) Data-plane throughput of a job with a hash exchange on a MiniCluster (two TaskManagers),
 *     its metrics rendered as Prometheus text every second while it runs ("on", 5 times the
 *     compose overlay's 5 s scrape), against the same job with nothing reading them ("off");
 *     rounds alternate, medians compared. The tasks' counters (records, bytes, credit waits,
 *     busy/idle/back-pressured time, per batch) are always kept: "off" is what a cluster nobody
 *     scrapes pays, the baseline the goal (>= 0.97x) is about.
 * (b) GET /jobs/overview with 1,000 finished jobs kept: p50 and p99 of sequential calls.
 * (c) What a task's time accounting adds to each wait (once per batch of up to 1,000 records):
 *     an awaited resolved promise with and without `TaskTimes.timed` around it.
 *
 * Flags: --records N (per round of a), --rounds N (of each kind), --jobs N (finished, for b).
 */
import { startMiniCluster } from "../../components/cluster/mod.ts";
import { isJobEnd, JobState } from "../../components/core/mod.ts";
import { bundleJob } from "../../components/dataflow/internal_mod.ts";
import { TaskTimes } from "../../components/dataflow/runtime/task_times.ts";
import { processMetrics } from "../../components/metrics/mod.ts";
import { numberFlag } from "./measure.ts";
import { type BenchResult, percentile } from "./report.ts";

const progress = (line: string) => process.stderr.write(`[bench observe] ${line}\n`);

type Mini = Awaited<ReturnType<typeof startMiniCluster>>;

async function upload(mini: Mini, file: string): Promise<string> {
  const res = await mini.rest.request("/artifacts", {
    method: "POST",
    body: (await bundleJob(file)) as BodyInit,
  });
  if (!res.ok) throw new Error(`upload ${file}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { artifact: string }).artifact;
}

async function submit(mini: Mini, artifact: string, args: Record<string, string> = {}) {
  const res = await mini.rest.request("/jobs", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ artifact, args }),
  });
  if (res.status !== 202) throw new Error(`submit: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { jobId: string }).jobId;
}

/** Resolves when the job ended (FINISHED, else throws). */
async function ended(mini: Mini, jobId: string): Promise<void> {
  for (;;) {
    const res = await mini.rest.request(`/jobs/${jobId}`);
    const state = res.ok ? ((await res.json()) as { state: JobState }).state : undefined;
    if (state && isJobEnd(state)) {
      if (state !== JobState.FINISHED) throw new Error(`job ${jobId} ${state}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** How long rendering /metrics took, each time (ms). */
const scrapeMs: number[] = [];

/** Records per second of one run; with `scrapeEveryMs`, /metrics rendered meanwhile. */
async function round(mini: Mini, artifact: string, records: number, scrapeEveryMs?: number) {
  let scrapes = 0;
  let stop = false;
  let wake: (() => void) | undefined;
  const scraping = (async () => {
    while (scrapeEveryMs && !stop) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, scrapeEveryMs);
      });
      if (stop) break;
      const t = performance.now();
      await processMetrics().text();
      scrapeMs.push(performance.now() - t);
      scrapes++;
    }
  })();
  const t0 = performance.now();
  await ended(mini, await submit(mini, artifact, { records: String(records) }));
  const ms = performance.now() - t0;
  stop = true;
  wake?.();
  await scraping;
  return { rate: records / (ms / 1000), scrapes };
}

const median = (xs: number[]) => percentile(xs, 0.5);
const SCRAPE_EVERY_MS = 1000;

async function dataPlane(records: number, rounds: number): Promise<BenchResult[]> {
  const mini = await startMiniCluster({ taskManagers: 2, slotsPerTaskManager: 2 });
  try {
    const artifact = await upload(mini, "test/bench/jobs/observe_pipeline.ts");
    await round(mini, artifact, Math.min(records, 50_000)); // warm-up
    const off: number[] = [];
    const on: number[] = [];
    let scrapes = 0;
    for (let i = 0; i < rounds; i++) {
      off.push((await round(mini, artifact, records)).rate);
      const r = await round(mini, artifact, records, SCRAPE_EVERY_MS);
      on.push(r.rate);
      scrapes += r.scrapes;
      progress(
        `round ${i + 1}: off ${off.at(-1)!.toFixed(0)}, on ${r.rate.toFixed(0)} records/s (${r.scrapes} scrapes)`,
      );
    }
    const base = "(a) metrics off (nothing scrapes), records/s";
    return [
      { name: base, value: median(off), unit: "records/s" },
      {
        name: `(a) metrics on (/metrics every ${SCRAPE_EVERY_MS} ms, ${scrapes} scrapes), records/s`,
        value: median(on),
        unit: "records/s",
        baseline: base,
      },
      {
        name: "(a) rendering /metrics while the job runs, p50",
        value: percentile(scrapeMs, 0.5),
        unit: "ms",
      },
    ];
  } finally {
    await mini.stop();
  }
}

async function overview(jobs: number): Promise<BenchResult[]> {
  const mini = await startMiniCluster({
    taskManagers: 1,
    slotsPerTaskManager: 8,
    dispatcher: { jobStore: { maxCapacity: jobs } },
  });
  try {
    const artifact = await upload(mini, "test/bench/jobs/one_record.ts");
    const t0 = performance.now();
    let next = 0;
    const submitter = async () => {
      while (next < jobs) {
        next++;
        await ended(mini, await submit(mini, artifact));
      }
    };
    await Promise.all(Array.from({ length: 8 }, submitter));
    progress(`${jobs} jobs finished in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const samples: number[] = [];
    let listed = 0;
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      const res = await mini.rest.request("/jobs/overview");
      const body = (await res.json()) as { jobs: unknown[] };
      samples.push(performance.now() - t);
      listed = body.jobs.length;
    }
    if (listed < jobs) throw new Error(`/jobs/overview listed ${listed} jobs, not ${jobs}`);
    return [
      {
        name: `(b) GET /jobs/overview with ${listed} finished jobs, p50`,
        value: percentile(samples, 0.5),
        unit: "ms",
      },
      {
        name: `(b) GET /jobs/overview with ${listed} finished jobs, p99`,
        value: percentile(samples, 0.99),
        unit: "ms",
      },
    ];
  } finally {
    await mini.stop();
  }
}

async function accounting(waits: number): Promise<BenchResult[]> {
  const times = new TaskTimes();
  times.running();
  /** Microseconds per wait of `wait`, over `waits` of them. */
  const perWait = async (wait: (i: number) => Promise<number>) => {
    const t0 = performance.now();
    for (let i = 0; i < waits; i++) await wait(i);
    return ((performance.now() - t0) * 1000) / waits;
  };
  const bare: number[] = [];
  const counted: number[] = [];
  for (let round = 0; round < 5; round++) {
    bare.push(await perWait((i) => Promise.resolve(i)));
    counted.push(await perWait((i) => times.timed(Promise.resolve(i), false)));
  }
  const base = "(c) an awaited wait (once per batch), us";
  return [
    { name: base, value: median(bare), unit: "us" },
    {
      name: "(c) the same wait counted by TaskTimes.timed, us",
      value: median(counted),
      unit: "us",
      baseline: base,
    },
  ];
}

export async function run(args: string[]): Promise<BenchResult[]> {
  const records = numberFlag(args, "--records", 10_000_000);
  const rounds = numberFlag(args, "--rounds", 6);
  const jobs = numberFlag(args, "--jobs", 1000);
  return [
    ...(await dataPlane(records, rounds)),
    ...(await overview(jobs)),
    ...(await accounting(1_000_000)),
  ];
}
