/**
 * The JetStream-to-JetStream ETL example end to end against a real nats-server, with a failure
 * injected mid-stream: after the restart from the latest checkpoint, the output stream holds
 * every paid order exactly once.
 */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import t from "tap";
import { JobState } from "../../../components/core/mod.ts";
import { runLocal } from "../../../components/dataflow/internal_mod.ts";
import { defineJob, sinks, sources } from "../../../components/dataflow/mod.ts";
import etl, { type Order } from "../../../examples/jetstream-etl.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

const ORDERS = 6000;
const statusOf = (i: number): Order["status"] =>
  i % 3 === 0 ? "open" : i % 7 === 0 ? "canceled" : "paid";

async function setup(t: Parameters<typeof natsFor>[0]) {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"] });
  await jsm.streams.add({ name: "PAID", subjects: ["paid.orders"] });
  const js = jetstream(nc);
  const acks = [];
  for (let i = 0; i < ORDERS; i++) {
    const order: Order = {
      id: `o${i}`,
      customer: `c${i % 50}`,
      cents: 100 + i,
      status: statusOf(i),
    };
    acks.push(js.publish(`orders.${order.customer}`, JSON.stringify(order)));
    if (acks.length === 1000) await Promise.all(acks.splice(0));
  }
  await Promise.all(acks);
  const expected = Array.from({ length: ORDERS }, (_, i) => i)
    .filter((i) => statusOf(i) === "paid")
    .map((i) => `o${i}`);
  return { server, jsm, expected };
}

async function outputIds(jsm: Awaited<ReturnType<typeof jetstreamManager>>): Promise<string[]> {
  const { state } = await jsm.streams.info("PAID");
  const ids: string[] = [];
  for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
    const m = await jsm.streams.getMessage("PAID", { seq });
    if (m) ids.push(m.json<{ id: string }>().id);
  }
  return ids;
}

t.test("the ETL example publishes every paid order exactly once", async (t) => {
  const { server, jsm, expected } = await setup(t);
  const result = await runLocal(
    etl.graph({ args: { nats: server.url, input: "ORDERS", output: "paid.orders" } }),
  ).result;
  t.equal(result.state, JobState.FINISHED, String(result.error?.message ?? "finished"));
  const ids = await outputIds(jsm);
  t.equal(ids.length, expected.length);
  t.same(ids, expected, "in stream order, once each");
});

t.test("a failure mid-stream: after restore the output holds each paid order once", async (t) => {
  const { server, jsm, expected } = await setup(t);
  let seen = 0;
  let failed = false;
  const job = defineJob(
    {
      name: "etl-with-failure",
      checkpointing: { intervalMs: 20 },
      restartStrategy: { type: "fixed-delay", attempts: 3, delayMs: 50 },
    },
    (env) =>
      env
        .source(sources.jetstream<Order>({ servers: server.url, stream: "ORDERS", bounded: true }))
        .map((o) => {
          // Fail once, late enough that checkpoints have committed output before it.
          if (!failed && ++seen === Math.floor(ORDERS * 0.7)) {
            failed = true;
            throw new Error("injected failure");
          }
          return o;
        })
        .filter((o) => o.status === "paid")
        .map((o) => ({ id: o.id, customer: o.customer, euros: o.cents / 100 }))
        .sink(sinks.jetstream({ servers: server.url, subject: "paid.orders" })),
  );
  const handle = runLocal(job.graph());
  const result = await handle.result;
  t.equal(result.state, JobState.FINISHED, String(result.error?.message ?? "finished"));
  t.equal(result.restarts, 1, "restarted once");
  t.ok(result.checkpoints >= 2, `${result.checkpoints} checkpoints`);
  const ids = await outputIds(jsm);
  t.equal(new Set(ids).size, ids.length, "no duplicates");
  t.same([...ids].sort(), [...expected].sort(), "no loss");
});
