/**
 * The data-plane channel between two processes over NATS, next to its baseline: raw nats.js
 * publishes of the very same pre-encoded batch frames (flushed at the end) to a subscriber that
 * only counts. The receiver runs in a child process (`channel_receiver.ts`). Two record shapes:
 * `recordBytes`-byte binary records (what a serializer hands over) and small objects of about
 * `recordBytes` bytes encoded (the cbor-x record path). Each case runs once to warm up, then
 * `rounds` times; the median round is reported. MB/s counts record payload (records x recordBytes).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { batchFrameEncoder, natsChannelSender } from "../../components/rpc/mod.ts";
import type { ReceiverLine, ReceiverPlan } from "./channel_receiver.ts";
import type { BenchResult } from "./report.ts";

export type RecordShape = "bytes" | "objects";

export interface ChannelBenchOptions {
  natsUrl: string;
  /** Records per measured round. @default 2_000_000 */
  records?: number;
  /** Size of one record. @default 100 */
  recordBytes?: number;
  /** @default 1000 */
  batchRecords?: number;
  /** Receiver credits of the channel (natsChannelReceiver's default). @default 32 */
  credits?: number;
  /** Measured rounds per case (after one warm-up round of a tenth of the records). @default 3 */
  rounds?: number;
  /** @default ["bytes", "objects"] */
  shapes?: RecordShape[];
  progress?: (line: string) => void;
}

/** Distinct batches the sender cycles through, so building records is not measured. */
const POOL = 16;

function makeRecord(shape: RecordShape, i: number, recordBytes: number): unknown {
  if (shape === "bytes") {
    const record = new Uint8Array(recordBytes);
    for (let k = 0; k < recordBytes; k++) record[k] = (i * 31 + k) & 0xff;
    return record;
  }
  // About recordBytes once encoded: two numbers, a short key and a padded string.
  const value = `v${i}-`.padEnd(Math.max(1, recordBytes - 26), "x");
  return { id: i, ts: 1_700_000_000_000 + i, key: `key-${i % 1000}`, value };
}

/** The receiver's stdout as JSON lines, each awaited with a deadline. */
function jsonLines(
  child: ChildProcess,
): (what: string, timeoutMs: number) => Promise<ReceiverLine> {
  const queue: string[] = [];
  let waiter: ((line: string) => void) | undefined;
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (waiter) waiter(line);
    else queue.push(line);
  });
  return (what, timeoutMs) =>
    new Promise((resolve, reject) => {
      const queued = queue.shift();
      if (queued !== undefined) return resolve(JSON.parse(queued) as ReceiverLine);
      const timer = setTimeout(() => {
        waiter = undefined;
        reject(new Error(`channel_receiver.ts: no ${what} line within ${timeoutMs} ms`));
      }, timeoutMs);
      const onExit = (code: number | null) =>
        reject(new Error(`channel_receiver.ts exited (code ${code}) while waiting for ${what}`));
      child.once("exit", onExit);
      waiter = (line) => {
        waiter = undefined;
        clearTimeout(timer);
        child.off("exit", onExit);
        resolve(JSON.parse(line) as ReceiverLine);
      };
    });
}

function startReceiver(plan: ReceiverPlan): { child: ChildProcess; stop: () => Promise<void> } {
  const script = fileURLToPath(new URL("./channel_receiver.ts", import.meta.url));
  const child = spawn(
    process.execPath,
    ["--import", import.meta.resolve("tsx"), script, JSON.stringify(plan)],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once("exit", () => resolve());
  });
  const stop = async () => {
    child.stdin?.end();
    const killer = setTimeout(() => child.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(killer);
  };
  return { child, stop };
}

type Send = (nc: NatsConnection, subject: string, batches: number) => Promise<void>;

/** Runs one case (warm-up plus rounds) against a fresh receiver process; records/s per round. */
async function runCase(
  natsUrl: string,
  mode: ReceiverPlan["mode"],
  plan: { warmup: number; batches: number; rounds: number; batchRecords: number; credits: number },
  send: Send,
): Promise<number[]> {
  const sizes = [plan.warmup, ...Array.from({ length: plan.rounds }, () => plan.batches)];
  const runs = sizes.map((batches, i) => ({ subject: `bench.channel.${mode}.${i}`, batches }));
  const { child, stop } = startReceiver({
    natsUrl,
    mode,
    runs,
    recordsPerBatch: plan.batchRecords,
    credits: plan.credits,
  });
  const next = jsonLines(child);
  const nc = await connect({ servers: natsUrl, name: `bench-channel-${mode}-sender` }).catch(
    async (err) => {
      await stop();
      throw err;
    },
  );
  try {
    const rates: number[] = [];
    for (const [i, run] of runs.entries()) {
      await next("ready", 30_000);
      const started = performance.now();
      await send(nc, run.subject, run.batches);
      const done = await next("done", 120_000);
      const seconds = (performance.now() - started) / 1000;
      if (!("done" in done)) throw new Error(`${mode} run ${i}: ${JSON.stringify(done)}, not done`);
      if (done.records !== run.batches * plan.batchRecords) {
        throw new Error(`${mode} run ${i}: ${done.records} records arrived`);
      }
      if (i > 0) rates.push(done.records / seconds);
    }
    return rates;
  } finally {
    await nc.close().catch(() => {});
    await stop();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export async function measureChannel({
  natsUrl,
  records = 2_000_000,
  recordBytes = 100,
  batchRecords = 1000,
  credits = 32,
  rounds = 3,
  shapes = ["bytes", "objects"],
  progress = () => {},
}: ChannelBenchOptions): Promise<BenchResult[]> {
  const batches = Math.max(1, Math.round(records / batchRecords));
  const plan = { warmup: Math.ceil(batches / 10), batches, rounds, batchRecords, credits };
  const results: BenchResult[] = [];
  for (const shape of shapes) {
    const pool = Array.from({ length: POOL }, (_, b) =>
      Array.from({ length: batchRecords }, (_, i) =>
        makeRecord(shape, b * batchRecords + i, recordBytes),
      ),
    );
    const encode = batchFrameEncoder();
    const frames = pool.map((batch, i) => encode(i, batch));
    const frameBytes = frames.reduce((sum, f) => sum + f.byteLength, 0) / frames.length;
    progress(`${shape}: ${batches} batches of ${batchRecords}, ${Math.round(frameBytes)} B/frame`);

    const raw = await runCase(natsUrl, "raw", plan, async (nc, subject, n) => {
      for (let i = 0; i < n; i++) nc.publish(subject, frames[i % POOL]!);
      await nc.flush();
    });
    const channel = await runCase(natsUrl, "channel", plan, async (nc, subject, n) => {
      const sender = natsChannelSender<unknown>({ nc, subject });
      for (let i = 0; i < n; i++) await sender.send(pool[i % POOL]!);
      await sender.close();
    });
    progress(`${shape}: raw ${raw.map(Math.round).join(", ")}; channel ${channel.map(Math.round)}`);

    const rawName = `raw nats publish (baseline), ${shape} records`;
    const channelName = `channel over nats, ${shape} records`;
    const mb = (rate: number) => (rate * recordBytes) / 1e6;
    results.push(
      { name: rawName, value: median(raw), unit: "records/s" },
      { name: `${rawName}, MB/s`, value: mb(median(raw)), unit: "MB/s" },
      { name: channelName, value: median(channel), unit: "records/s", baseline: rawName },
      {
        name: `${channelName}, MB/s`,
        value: mb(median(channel)),
        unit: "MB/s",
        baseline: `${rawName}, MB/s`,
      },
    );
  }
  return results;
}
