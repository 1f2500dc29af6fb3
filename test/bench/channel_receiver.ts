/**
 * The receiving process of the channel benchmark (`channel.ts`), so sender and receiver do not
 * share an event loop. For each run it subscribes (raw: counts messages on a plain subscription;
 * channel: iterates a `natsChannelReceiver`), prints `{"ready": run}` and, once every batch of the
 * run arrived, `{"done": run, "records": n, "bytes": b}`. Exits when its stdin closes, so it never
 * outlives the benchmark.
 *
 * Usage: node --import tsx test/bench/channel_receiver.ts '<ReceiverPlan as JSON>'
 */
import { connect } from "@nats-io/transport-node";
import { natsChannelReceiver } from "../../components/rpc/mod.ts";

export interface ReceiverPlan {
  natsUrl: string;
  mode: "raw" | "channel";
  /** One entry per run: its subject and how many batches it carries. */
  runs: Array<{ subject: string; batches: number }>;
  recordsPerBatch: number;
  credits: number;
}

/** What the receiver prints, a JSON line each: a run is subscribed, or all of it arrived. */
export type ReceiverLine = { ready: number } | { done: number; records: number; bytes: number };

const plan = JSON.parse(process.argv[2] ?? "null") as ReceiverPlan | null;
if (!plan) {
  process.stderr.write("usage: channel_receiver.ts '<plan json>'\n");
  process.exit(64);
}

const say = (line: ReceiverLine) => process.stdout.write(`${JSON.stringify(line)}\n`);
const nc = await connect({ servers: plan.natsUrl, name: "bench-channel-receiver" });
void (async () => {
  for await (const s of nc.status()) {
    if (s.type === "error" || s.type === "disconnect") {
      process.stderr.write(`[channel_receiver] nats ${s.type}: ${JSON.stringify(s)}\n`);
    }
  }
})();
process.stdin.on("close", () => process.exit(0));
process.stdin.resume();

async function rawRun(run: number, subject: string, batches: number): Promise<void> {
  let messages = 0;
  let bytes = 0;
  let resolve = () => {};
  const arrived = new Promise<void>((r) => (resolve = r));
  const sub = nc.subscribe(subject, {
    callback: (_err, msg) => {
      bytes += msg.data.byteLength;
      if (++messages === batches) resolve();
    },
  });
  await nc.flush();
  say({ ready: run });
  await arrived;
  sub.unsubscribe();
  say({ done: run, records: messages * plan!.recordsPerBatch, bytes });
}

async function channelRun(run: number, subject: string): Promise<void> {
  const receiver = natsChannelReceiver<unknown>({ nc, subject, credits: plan!.credits });
  await nc.flush();
  say({ ready: run });
  let records = 0;
  for await (const batch of receiver) records += batch.length;
  say({ done: run, records, bytes: 0 });
}

for (const [run, { subject, batches }] of plan.runs.entries()) {
  if (plan.mode === "raw") await rawRun(run, subject, batches);
  else await channelRun(run, subject);
}
await nc.close();
