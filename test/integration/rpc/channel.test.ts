/**
 * The NATS channel against a real nats-server, sender and receiver on separate connections (as
 * on two TaskManagers): order, backpressure, end-of-stream, cancel, garbage, oversize batches,
 * and either side starting first.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import t from "tap";
import {
  createLogger,
  ErrorCode,
  type FlotillaError,
  subjects,
} from "../../../components/core/mod.ts";
import {
  batchFrameEncoder,
  ChannelCanceledError,
  type ChannelReceiver,
  ChannelSequenceError,
  channelSubjects,
  natsChannelReceiver,
  natsChannelSender,
} from "../../../components/rpc/mod.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

interface Test {
  teardown(fn: () => unknown): void;
}

/** The settled value or error of `promise`, handled at once so a rejection is never "unhandled". */
const outcome = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    (value) => value,
    (err: unknown) => err,
  );

let edge = 0;
/** A server, a connection per side and a fresh channel subject. */
async function setup(t: Test, maxPayload?: number) {
  const server = await natsFor(t, { jetstream: false, ...(maxPayload ? { maxPayload } : {}) });
  const [a, b] = [await connectFor(t, server), await connectFor(t, server)];
  const subject = subjects.channel({
    clusterId: "test",
    jobId: "0123456789abcdef0123456789abcdef",
    attempt: 0,
    edge: `e${edge++}`,
    targetSubtask: 3,
  });
  return { senderNc: a, receiverNc: b, subject, subjects: channelSubjects(subject) };
}

/** Resolves once `nc` has processed everything the server sent it before this call. */
const settled = (...ncs: NatsConnection[]) => Promise.all(ncs.map((nc) => nc.flush()));

async function readAll<T>(receiver: ChannelReceiver<T>): Promise<{ items: T[]; max: number }> {
  const items: T[] = [];
  let max = 0;
  for await (const batch of receiver) {
    max = Math.max(max, receiver.stats().buffered);
    items.push(...batch);
  }
  return { items, max };
}

function captureLog() {
  const lines: Array<{ msg: string; why?: string }> = [];
  const log = createLogger({
    level: "warn",
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  return { log, lines };
}

t.test("channelSubjects refuses a subject with wildcards", async (t) => {
  t.throws(() => channelSubjects("flotilla.*.data"), { code: ErrorCode.INVALID_ARGUMENT });
});

t.test("batches of bytes and of objects arrive in order, none lost or doubled", async (t) => {
  const { senderNc, receiverNc, subject } = await setup(t);
  const receiver = natsChannelReceiver<unknown>({ nc: receiverNc, subject, credits: 4 });
  const sender = natsChannelSender<unknown>({ nc: senderNc, subject });
  const reading = readAll(receiver);
  const sent: unknown[] = [];
  for (let b = 0; b < 300; b++) {
    const batch =
      b % 2 === 0
        ? Array.from({ length: 50 }, (_, i) => new Uint8Array([b & 0xff, i, 7]))
        : [{ id: b, key: `k${b}`, tags: ["x"] }, { barrier: b }, null, `s${b}`];
    sent.push(...batch);
    await sender.send(batch);
  }
  await sender.close();
  const { items, max } = await reading;
  t.equal(items.length, sent.length, "nothing lost or doubled");
  t.same(items, sent, "every item equal and in its place");
  t.ok(max <= 4, `buffered at most the credit (saw ${max})`);
  t.match(receiver.stats(), { received: 300, taken: 300, buffered: 0, dropped: 0 });
});

t.test("a stalled consumer blocks the sender; resuming releases it in order", async (t) => {
  const { senderNc, receiverNc, subject } = await setup(t);
  const credits = 3;
  const receiver = natsChannelReceiver<number>({ nc: receiverNc, subject, credits });
  const sender = natsChannelSender<number>({ nc: senderNc, subject });
  for (let i = 0; i < credits; i++) await sender.send([i]);
  let released = false;
  const blocked = sender.send([credits]).then(() => (released = true));
  await settled(senderNc, receiverNc);
  t.equal(receiver.stats().buffered, credits, "the receiver holds exactly its credit");
  await sleep(300); // bounded: the blocked send must still be waiting afterwards
  t.notOk(released, "the send beyond the credit is still pending");
  t.equal(receiver.stats().buffered, credits, "and nothing more arrived");
  t.match(sender.stats(), { sent: credits, credit: 0, waiting: 1 });

  const more = Array.from({ length: 20 }, (_, i) => sender.send([credits + 1 + i]));
  const closed = sender.close();
  const { items, max } = await readAll(receiver);
  await Promise.all([blocked, ...more, closed]);
  t.ok(released);
  t.same(
    items,
    Array.from({ length: credits + 21 }, (_, i) => i),
    "all of it, in order",
  );
  t.ok(max <= credits, `never more than ${credits} buffered (saw ${max})`);
});

t.test("close with nothing sent ends the receiver's loop", async (t) => {
  const { senderNc, receiverNc, subject } = await setup(t);
  const receiver = natsChannelReceiver<number>({ nc: receiverNc, subject });
  await natsChannelSender<number>({ nc: senderNc, subject }).close();
  t.same((await readAll(receiver)).items, []);
});

t.test("the sender's cancel fails the receiver with CANCELED", async (t) => {
  const { senderNc, receiverNc, subject } = await setup(t);
  const receiver = natsChannelReceiver<number>({ nc: receiverNc, subject, credits: 1 });
  const sender = natsChannelSender<number>({ nc: senderNc, subject });
  await sender.send([1]);
  const blocked = outcome(sender.send([2]));
  await sender.cancel("source failed");
  t.match(await blocked, { code: ErrorCode.CANCELED });
  const err = await readAll(receiver).catch((e: unknown) => e);
  t.ok(err instanceof ChannelCanceledError, "typed error on the other side");
  t.match((err as Error).message, /the sender canceled \(source failed\)/);
});

t.test("the receiver's cancel fails a blocked sender with CANCELED", async (t) => {
  const { senderNc, receiverNc, subject } = await setup(t);
  const receiver = natsChannelReceiver<number>({ nc: receiverNc, subject, credits: 1 });
  const sender = natsChannelSender<number>({ nc: senderNc, subject });
  await sender.send([1]);
  const blocked = outcome(sender.send([2]));
  await settled(senderNc, receiverNc);
  await receiver.cancel("sink failed");
  const err = (await blocked) as FlotillaError;
  t.ok(err instanceof ChannelCanceledError, "typed error on the other side");
  t.match(err.message, /the receiver canceled \(sink failed\)/);
  await t.rejects(sender.send([3]), { code: ErrorCode.CANCELED });
});

t.test(
  "garbage on the channel's subjects is logged and dropped; the channel goes on",
  async (t) => {
    const { senderNc, receiverNc, subject, subjects } = await setup(t);
    const receiving = captureLog();
    const sending = captureLog();
    const receiver = natsChannelReceiver<number>({ nc: receiverNc, subject, log: receiving.log });
    const sender = natsChannelSender<number>({ nc: senderNc, subject, log: sending.log });
    await sender.send([1]);
    const junk = [
      new Uint8Array([0xff, 0x00, 0x13]),
      new TextEncoder().encode("hello"),
      new Uint8Array(),
    ];
    for (const bytes of junk) {
      senderNc.publish(subjects.data, bytes);
      senderNc.publish(subjects.credit, bytes);
      senderNc.publish(subjects.open, bytes);
    }
    const reply = await senderNc.request(subjects.open, junk[0]!, { timeout: 1000 });
    t.ok(reply.data.byteLength > 0, "a garbled open request gets an answer, not silence");
    await settled(senderNc, receiverNc);
    t.equal(receiver.stats().dropped, 7, "3 on data + 4 on open, counted");
    t.equal(sender.stats().dropped, 3, "3 on credit, counted");
    t.ok(
      receiving.lines.some((l) => l.msg === "dropped a stray message"),
      "and logged",
    );
    t.ok(sending.lines.some((l) => l.msg === "dropped a stray message"));
    await sender.send([2]);
    await sender.close();
    t.same((await readAll(receiver)).items, [1, 2], "delivery unaffected");
  },
);

t.test("a batch number out of sequence fails the receiver with a typed error", async (t) => {
  const { senderNc, receiverNc, subject, subjects } = await setup(t);
  const receiver = natsChannelReceiver<number>({ nc: receiverNc, subject });
  const sender = natsChannelSender<number>({ nc: senderNc, subject });
  await sender.send([0]);
  senderNc.publish(subjects.data, batchFrameEncoder()(5, [5]));
  const err = await readAll(receiver).catch((e: unknown) => e);
  t.ok(err instanceof ChannelSequenceError, "not a silent gap");
  t.match(err, { expected: 1, received: 5 });
  await sender.cancel();
});

t.test("a batch over max_payload fails clearly and smaller ones still go", async (t) => {
  const { senderNc, receiverNc, subject } = await setup(t, 64 * 1024);
  const receiver = natsChannelReceiver<Uint8Array>({ nc: receiverNc, subject });
  const sender = natsChannelSender<Uint8Array>({ nc: senderNc, subject });
  const big = Array.from({ length: 1000 }, () => new Uint8Array(100));
  const err = (await sender.send(big).catch((e: unknown) => e)) as FlotillaError;
  t.equal(err.code, ErrorCode.PAYLOAD_TOO_LARGE);
  t.match(err.message, /encodes to 10\d{4} bytes, over the NATS server's max_payload of 65536/);
  await sender.send(big.slice(0, 10));
  await sender.close();
  t.equal((await readAll(receiver)).items.length, 10);
});

t.test("the sender may start before its receiver", async (t) => {
  const { senderNc, receiverNc, subject } = await setup(t);
  const sender = natsChannelSender<number>({ nc: senderNc, subject });
  const first = sender.send([1]);
  await sleep(200); // bounded: with no receiver yet, nothing may go out (OPEN meets no responders)
  t.match(sender.stats(), { sent: 0, waiting: 1 }, "waiting for the receiver's credit");
  const receiver = natsChannelReceiver<number>({ nc: receiverNc, subject });
  await first;
  await sender.send([2]);
  await sender.close();
  t.same((await readAll(receiver)).items, [1, 2]);
});

t.test("without a receiver the sender gives up with UNAVAILABLE at its deadline", async (t) => {
  const { senderNc, subject } = await setup(t);
  const sender = natsChannelSender<number>({ nc: senderNc, subject, openTimeoutMs: 300 });
  const err = (await sender.send([1]).catch((e: unknown) => e)) as FlotillaError;
  t.equal(err.code, ErrorCode.UNAVAILABLE);
  t.match(err.message, /no receiver answered on .*\.open within 300 ms/);
  await t.rejects(sender.close(), { code: ErrorCode.UNAVAILABLE });
});

t.test("a receiver that vanishes is noticed by a sender blocked on credit", async (t) => {
  const { senderNc, receiverNc, subject } = await setup(t);
  natsChannelReceiver<number>({ nc: receiverNc, subject, credits: 1 });
  const sender = natsChannelSender<number>({
    nc: senderNc,
    subject,
    openTimeoutMs: 300,
    probeIntervalMs: 100,
  });
  await sender.send([1]);
  await receiverNc.close(); // its process died: no cancel was sent
  await t.rejects(sender.send([2]), { code: ErrorCode.UNAVAILABLE });
});

t.test("a second sender on the same channel is refused", async (t) => {
  const { senderNc, receiverNc, subject } = await setup(t);
  const receiver = natsChannelReceiver<number>({ nc: receiverNc, subject });
  const first = natsChannelSender<number>({ nc: senderNc, subject });
  await first.send([1]);
  const second = natsChannelSender<number>({ nc: senderNc, subject });
  await t.rejects(second.send([2]), { code: ErrorCode.CONFLICT });
  await first.close();
  t.same((await readAll(receiver)).items, [1]);
});
