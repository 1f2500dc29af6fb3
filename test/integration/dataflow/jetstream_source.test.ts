/** sources.jetstream against a real nats-server: in order, bounded, resumed from a position. */
import { jetstreamManager, jetstream as jsClient } from "@nats-io/jetstream";
import t from "tap";
import { ErrorCode, NotFoundError } from "../../../components/core/mod.ts";
import { sources } from "../../../components/dataflow/sources/mod.ts";
import type { SourceReader } from "../../../components/dataflow/types.ts";
import { testContext } from "../../support/dataflow.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

async function readAll<T>(reader: SourceReader<T>, max = 4): Promise<T[]> {
  const out: T[] = [];
  for (let batch = await reader.poll(max); batch; batch = await reader.poll(max)) {
    out.push(...batch.values);
  }
  return out;
}

async function setup(t: { teardown(fn: () => unknown): void }, subjects = ["orders.>"]) {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "ORDERS", subjects });
  const js = jsClient(nc);
  const ctx = testContext({ natsUrl: server.url });
  t.teardown(() => ctx.close());
  return { server, nc, js, ctx };
}

t.test(
  "bounded: reads every message in order, then ends; the position is the next sequence",
  async (t) => {
    const { js, ctx } = await setup(t);
    for (let i = 1; i <= 10; i++)
      await js.publish(`orders.${i % 2 ? "odd" : "even"}`, JSON.stringify({ i }));
    const source = sources.jetstream<{ i: number }>({ stream: "ORDERS", bounded: true });
    t.equal(source.parallelism, 1);
    t.equal(source.bounded, true);
    const reader = source.createReader(ctx);
    t.same(
      (await readAll(reader)).map((v) => v.i),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    t.equal(reader.position(), 11);
    t.equal(await reader.poll(5), null, "stays ended");
    await reader.close?.();
  },
);

t.test("a restored reader resumes at the checkpointed sequence", async (t) => {
  const { js, ctx } = await setup(t);
  for (let i = 1; i <= 10; i++) await js.publish("orders.x", JSON.stringify(i));
  const source = sources.jetstream<number>({ stream: "ORDERS", bounded: true });
  const first = source.createReader(ctx);
  const before: number[] = [];
  while (before.length < 4) before.push(...(await first.poll(4 - before.length))!.values);
  t.same(before, [1, 2, 3, 4]);
  const position = first.position();
  t.equal(position, 5);
  await first.close?.();

  const second = source.createReader(ctx);
  await second.restore!([position]);
  t.same(await readAll(second), [5, 6, 7, 8, 9, 10], "no message lost or repeated");
  await second.close?.();
});

t.test(
  "unbounded: messages published while reading arrive; subject filter and decode apply",
  async (t) => {
    const { js, ctx } = await setup(t);
    await js.publish("orders.a", "first");
    await js.publish("orders.b", "skipped");
    const reader = sources
      .jetstream<string>({
        stream: "ORDERS",
        subject: "orders.a",
        decode: (data) => new TextDecoder().decode(data).toUpperCase(),
      })
      .createReader(ctx);
    const seen: string[] = [];
    while (seen.length < 1) seen.push(...(await reader.poll(10))!.values);
    await js.publish("orders.a", "second");
    await js.publish("orders.b", "skipped too");
    await js.publish("orders.a", "third");
    while (seen.length < 3) {
      const batch = await reader.poll(10);
      t.not(batch, null, "an unbounded reader never ends");
      seen.push(...batch!.values);
    }
    t.same(seen, ["FIRST", "SECOND", "THIRD"]);
    t.equal(reader.position(), 6, "after the last stream sequence read");
    t.same(await reader.poll(10), { values: [] }, "empty, not ended, when nothing is new");
    await reader.close?.();
  },
);

t.test("bounded on an empty stream or with nothing matching ends at once", async (t) => {
  const { js, ctx } = await setup(t);
  t.equal(
    await sources.jetstream({ stream: "ORDERS", bounded: true }).createReader(ctx).poll(5),
    null,
  );
  await js.publish("orders.b", "{}");
  const filtered = sources.jetstream({ stream: "ORDERS", subject: "orders.a", bounded: true });
  t.equal(await filtered.createReader(ctx).poll(5), null);
  const from = sources.jetstream({ stream: "ORDERS", bounded: true, startSequence: 2 });
  t.equal(await from.createReader(ctx).poll(5), null, "start after the last sequence");
});

t.test("a missing stream is a NOT_FOUND error naming it; bad JSON names the message", async (t) => {
  const { js, ctx } = await setup(t);
  const missing = sources.jetstream({ stream: "NOPE" }).createReader(ctx);
  const err = await missing.poll(5).catch((e: unknown) => e);
  t.type(err, NotFoundError);
  t.equal((err as NotFoundError).code, ErrorCode.NOT_FOUND);
  t.match((err as Error).message, /"NOPE" does not exist/);

  await js.publish("orders.x", "not json");
  const reader = sources.jetstream({ stream: "ORDERS", bounded: true }).createReader(ctx);
  await t.rejects(reader.poll(5), {
    code: ErrorCode.INVALID_ARGUMENT,
    message: /message 1 .*not JSON/,
  });
  await reader.close?.();
});
