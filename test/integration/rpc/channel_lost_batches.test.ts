/**
 * The NATS channel when NATS drops batches (at most once: a batch published while the receiver's
 * client is away, as in a nats-server restart, is gone without a trace). A sender that used up
 * its credit on lost batches sends nothing that would show the gap; its credit probe must.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { NatsConnection } from "@nats-io/transport-node";
import t from "tap";
import { ErrorCode, type FlotillaError, subjects } from "../../../components/core/mod.ts";
import {
  type ChannelReceiver,
  ChannelSequenceError,
  natsChannelReceiver,
  natsChannelSender,
} from "../../../components/rpc/mod.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

interface Test {
  teardown(fn: () => unknown): void;
}

let edge = 0;
async function setup(t: Test) {
  const server = await natsFor(t, { jetstream: false });
  const [a, b] = [await connectFor(t, server), await connectFor(t, server)];
  const subject = subjects.channel({
    clusterId: "test",
    jobId: "0123456789abcdef0123456789abcdef",
    attempt: 0,
    edge: `lost${edge++}`,
    targetSubtask: 0,
  });
  return { senderNc: a, receiverNc: b, subject };
}

/**
 * The sender's connection, except that publishes on `subject` vanish while `losing` is set, and
 * `opens(n)` resolves once the sender made its n-th OPEN request.
 */
function lossy(nc: NatsConnection, subject: string) {
  const state = { losing: false, lost: 0, openCount: 0 };
  const waiters: { n: number; resolve: () => void }[] = [];
  const conn = new Proxy(nc, {
    get(target, prop) {
      if (prop === "publish") {
        return (s: string, ...rest: unknown[]) => {
          if (state.losing && s === subject) state.lost++;
          else (target.publish as (...a: unknown[]) => void)(s, ...rest);
        };
      }
      if (prop === "request") {
        return (s: string, ...rest: unknown[]) => {
          if (s === `${subject}.open`) {
            state.openCount++;
            for (const w of waiters) if (state.openCount >= w.n) w.resolve();
          }
          return (target.request as (...a: unknown[]) => unknown)(s, ...rest);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const opens = (n: number) =>
    new Promise<void>((resolve) => {
      if (state.openCount >= n) resolve();
      else waiters.push({ n, resolve });
    });
  return { conn, state, opens };
}

async function readAll<T>(receiver: ChannelReceiver<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const batch of receiver) items.push(...batch);
  return items;
}

/** Bounded, so a stall fails the test instead of hanging it until tap's timeout. */
const orStall = <T>(promise: Promise<T>, ms = 5000) =>
  Promise.race([promise, sleep(ms, undefined, { ref: false }).then(() => "stalled" as const)]);

t.test("lost batches that used up the credit fail both ends instead of stalling", async (t) => {
  const { senderNc, receiverNc, subject } = await setup(t);
  const { conn, state } = lossy(senderNc, subject);
  const receiver = natsChannelReceiver<number>({ nc: receiverNc, subject, credits: 2 });
  const sender = natsChannelSender<number>({ nc: conn, subject, probeIntervalMs: 100 });
  await sender.send([0]);
  state.losing = true;
  await sender.send([1]);
  const read = readAll(receiver).catch((err: unknown) => err); // takes 0: credit up to 3
  await sender.send([2]);
  t.equal(state.lost, 2, "batches 1 and 2 vanished");
  const blocked = sender.send([3]).catch((err: unknown) => err);

  const err = await orStall(read);
  t.ok(err instanceof ChannelSequenceError, `the receiver fails with a typed error (got ${err})`);
  t.match(err, { expected: 1, received: 3 }, "1 arrived of the 3 sent");
  t.match((err as Error).message, /restart the job from its last checkpoint/);
  const senderErr = (await orStall(blocked)) as FlotillaError;
  t.equal(senderErr.code, ErrorCode.INTERNAL, "the blocked send fails too");
  t.match(senderErr.message, /the receiver refused: .*expected sent count 1 but got 3/);
});

t.test(
  "a slow consumer is not a loss: probes while everything arrived change nothing",
  async (t) => {
    const { senderNc, receiverNc, subject } = await setup(t);
    const { conn, opens } = lossy(senderNc, subject);
    const receiver = natsChannelReceiver<number>({ nc: receiverNc, subject, credits: 2 });
    const sender = natsChannelSender<number>({ nc: conn, subject, probeIntervalMs: 20 });
    await sender.send([0]);
    await sender.send([1]);
    const blocked = sender.send([2]);
    await opens(4); // the handshake and three probes while blocked on credit
    t.match(receiver.stats(), { received: 2, taken: 0 }, "nothing failed meanwhile");
    const more = [sender.send([3]), sender.send([4])];
    const closed = sender.close();
    t.same(await readAll(receiver), [0, 1, 2, 3, 4], "all of it, in order");
    await Promise.all([blocked, ...more, closed]);
  },
);
