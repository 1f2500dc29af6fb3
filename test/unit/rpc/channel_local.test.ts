/** The in-process channel and the shared credit/order rules it runs on (no NATS). */
import { setImmediate as tick } from "node:timers/promises";
import t from "tap";
import { ErrorCode, type FlotillaError } from "../../../components/core/mod.ts";
import { ReceiverCore } from "../../../components/rpc/channel.ts";
import {
  ChannelCanceledError,
  type ChannelReceiver,
  ChannelSequenceError,
  localChannel,
} from "../../../components/rpc/mod.ts";

/** Reads everything, checking the consecutive numbering, and records the largest buffer seen. */
async function drain(receiver: ChannelReceiver<number>): Promise<{ items: number[]; max: number }> {
  const items: number[] = [];
  let max = 0;
  for await (const batch of receiver) {
    max = Math.max(max, receiver.stats().buffered);
    items.push(...batch);
  }
  return { items, max };
}

/** Settles without waiting: "pending" if `promise` has not settled after a few turns. */
async function state(promise: Promise<unknown>): Promise<"pending" | "resolved" | "rejected"> {
  let result: "pending" | "resolved" | "rejected" = "pending";
  promise.then(
    () => (result = "resolved"),
    () => (result = "rejected"),
  );
  for (let i = 0; i < 5; i++) await tick();
  return result;
}

t.test("many batches arrive in order, none lost, and end-of-stream ends the loop", async (t) => {
  const { sender, receiver } = localChannel<number>({ credits: 3 });
  const reading = drain(receiver);
  for (let b = 0; b < 1000; b++) await sender.send([b * 10, b * 10 + 1, b * 10 + 2]);
  await sender.close();
  const { items, max } = await reading;
  t.equal(items.length, 3000);
  t.ok(
    items.every((v, i) => v === Math.floor(i / 3) * 10 + (i % 3)),
    "every item in its place",
  );
  t.ok(max <= 3, `never more than 3 batches buffered (saw ${max})`);
  t.same(receiver.stats(), {
    received: 1000,
    taken: 1000,
    buffered: 0,
    credits: 3,
    dropped: 0,
    bytes: 0, // nothing is encoded in process
  });
});

t.test("a stalled consumer blocks the sender after `credits` batches", async (t) => {
  const { sender, receiver } = localChannel<number>({ credits: 2 });
  await sender.send([0]);
  await sender.send([1]);
  const third = sender.send([2]);
  t.equal(await state(third), "pending", "the third send waits for credit");
  t.equal(receiver.stats().buffered, 2, "the receiver holds exactly its credit");
  t.same(
    sender.stats(),
    { sent: 2, credit: 0, waiting: 1, dropped: 0, bytes: 0, creditWaits: 1 },
    "the waiting send is counted as a credit wait",
  );

  const iterator = receiver[Symbol.asyncIterator]();
  t.same((await iterator.next()).value, [0]);
  await third;
  t.equal(receiver.stats().buffered, 2, "the freed slot was filled at once");
  const fourth = sender.send([3]);
  t.equal(await state(fourth), "pending");
  const closed = sender.close();
  const rest: number[] = [];
  for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(...r.value);
  await Promise.all([fourth, closed]);
  t.same(rest, [1, 2, 3], "resumed in order");
});

t.test("sends without awaiting keep their call order", async (t) => {
  const { sender, receiver } = localChannel<number>({ credits: 1 });
  const sends = Array.from({ length: 50 }, (_, i) => sender.send([i]));
  const reading = drain(receiver);
  await Promise.all(sends);
  await sender.close();
  t.same(
    (await reading).items,
    Array.from({ length: 50 }, (_, i) => i),
  );
});

t.test("close with nothing sent ends the loop; send after close is refused", async (t) => {
  const { sender, receiver } = localChannel<number>();
  await sender.close();
  t.same((await drain(receiver)).items, []);
  await t.rejects(sender.send([1]), { code: ErrorCode.CONFLICT });
});

t.test("the sender's cancel fails the receiver and its own waiting sends", async (t) => {
  const { sender, receiver } = localChannel<number>({ credits: 1 });
  await sender.send([1]);
  const blocked = sender.send([2]).catch((e: unknown) => e);
  await sender.cancel("upstream failed");
  t.match(await blocked, { code: ErrorCode.CANCELED });
  const err = await drain(receiver).catch((e: unknown) => e);
  t.ok(err instanceof ChannelCanceledError, "a typed error, not a silent end");
  t.equal((err as FlotillaError).code, ErrorCode.CANCELED);
  t.match((err as Error).message, /sender canceled \(upstream failed\)/);
  await t.rejects(sender.send([3]), { code: ErrorCode.CANCELED });
  await t.rejects(sender.close(), { code: ErrorCode.CANCELED });
});

t.test("the receiver's cancel fails a blocked sender", async (t) => {
  const { sender, receiver } = localChannel<number>({ credits: 1 });
  await sender.send([1]);
  const blocked = sender.send([2]).catch((e: unknown) => e);
  await receiver.cancel("downstream failed");
  const err = await blocked;
  t.ok(err instanceof ChannelCanceledError);
  t.match((err as Error).message, /receiver canceled \(downstream failed\)/);
  await t.rejects(sender.send([3]), { code: ErrorCode.CANCELED });
  await t.rejects(receiver[Symbol.asyncIterator]().next(), { code: ErrorCode.CANCELED });
});

t.test("leaving the loop early cancels the sender", async (t) => {
  const { sender, receiver } = localChannel<number>({ credits: 1 });
  const sending = (async () => {
    for (let i = 0; ; i++) await sender.send([i]);
  })();
  for await (const batch of receiver) if (batch[0] === 3) break;
  await t.rejects(sending, { code: ErrorCode.CANCELED });
});

t.test("a gap, a reorder or a short end-of-stream fails the receiver", async (t) => {
  const link = { grant: () => {}, abort: async () => {}, dispose: () => {} };
  const gap = new ReceiverCore<number>("gap", 4, link);
  gap.push(0, [0]);
  gap.push(2, [2]);
  const it = gap[Symbol.asyncIterator]();
  const err = await it.next().catch((e: unknown) => e);
  t.ok(err instanceof ChannelSequenceError, "typed sequence error");
  t.match(err, { expected: 1, received: 2, code: ErrorCode.INTERNAL });

  const reorder = new ReceiverCore<number>("reorder", 4, link);
  reorder.push(1, [1]);
  await t.rejects(reorder[Symbol.asyncIterator]().next(), ChannelSequenceError);

  const short = new ReceiverCore<number>("short", 4, link);
  short.push(0, [0]);
  short.end(2);
  const shortErr = await short[Symbol.asyncIterator]()
    .next()
    .catch((e: unknown) => e);
  t.match(shortErr, { name: "ChannelSequenceError", expected: 1, received: 2 });
});

t.test("a sender ignoring credit fails the receiver instead of growing its buffer", async (t) => {
  const link = { grant: () => {}, abort: async () => {}, dispose: () => {} };
  const receiver = new ReceiverCore<number>("greedy", 2, link);
  receiver.push(0, [0]);
  receiver.push(1, [1]);
  receiver.push(2, [2]);
  t.equal(receiver.stats().buffered, 0, "buffer dropped");
  await t.rejects(receiver[Symbol.asyncIterator]().next(), /beyond the granted limit 2/);
});

t.test("credit must be a positive integer", async (t) => {
  t.throws(() => localChannel({ credits: 0 }), { code: ErrorCode.INVALID_ARGUMENT });
  t.throws(() => localChannel({ credits: 1.5 }), { code: ErrorCode.INVALID_ARGUMENT });
});
