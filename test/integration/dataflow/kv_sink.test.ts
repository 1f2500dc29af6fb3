/** sinks.kv against a real nats-server: last value per key at commit, idempotent re-commit. */
import { Kvm } from "@nats-io/kv";
import t from "tap";
import {
  cbor,
  ErrorCode,
  InvalidArgumentError,
  NotFoundError,
} from "../../../components/core/mod.ts";
import { sinks } from "../../../components/dataflow/sinks/mod.ts";
import { testContext } from "../../support/dataflow.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

/** Staged data as it comes back from a checkpoint: through CBOR. */
const viaCheckpoint = <T>(value: T): T => cbor.decode(cbor.encode(value)) as T;

interface Count {
  word: string;
  count: number;
}

async function setup(t: { teardown(fn: () => unknown): void }) {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const bucket = await new Kvm(nc).create("counts", { history: 10 });
  const ctx = testContext({ natsUrl: server.url });
  t.teardown(() => ctx.close());
  const read = async (key: string) => (await bucket.get(key))?.json<unknown>();
  return { bucket, ctx, read };
}

t.test(
  "puts the last value of each key when the checkpoint commits; re-commits change nothing",
  async (t) => {
    const { bucket, ctx, read } = await setup(t);
    const sink = sinks.kv<Count>({ bucket: "counts", key: (c) => c.word, value: (c) => c.count });
    const writer = sink.createWriter(ctx);
    writer.write({ word: "a", count: 1 }, undefined);
    writer.write({ word: "b", count: 1 }, undefined);
    writer.write({ word: "a", count: 2 }, undefined);
    const cp1 = { checkpointId: 1, staged: writer.prepareCommit!(1) };
    t.same(cp1.staged, {
      entries: [
        ["b", new TextEncoder().encode("1")],
        ["a", new TextEncoder().encode("2")],
      ],
    });
    t.equal(await bucket.get("a"), null, "nothing visible before the commit");
    await writer.commit!([cp1]);
    t.equal(await read("a"), 2);
    t.equal(await read("b"), 1);

    writer.write({ word: "a", count: 3 }, undefined);
    const cp2 = { checkpointId: 2, staged: writer.prepareCommit!(2) };
    // The restored attempt's writer commits what the checkpoint held, in whatever order.
    const again = sink.createWriter(ctx);
    await again.commit!(viaCheckpoint([cp2, cp1]));
    t.equal(await read("a"), 3, "checkpoints commit in order whatever order they come in");
    await again.commit!([cp2]);
    t.equal(await read("a"), 3);
    t.equal(await read("b"), 1);
  },
);

t.test("without checkpoints, finish puts everything; whole records by default", async (t) => {
  const { ctx, read } = await setup(t);
  const writer = sinks.kv<Count>({ bucket: "counts", key: (c) => `w.${c.word}` }).createWriter(ctx);
  writer.write({ word: "x", count: 5 }, undefined);
  t.equal(await read("w.x"), undefined);
  await writer.finish!();
  t.same(await read("w.x"), { word: "x", count: 5 });
});

t.test("a missing bucket is a NOT_FOUND error; a bad key names the record", async (t) => {
  const { ctx } = await setup(t);
  const writer = sinks.kv({ bucket: "nope", key: String }).createWriter(ctx);
  await t.rejects(writer.drain!()!, {
    code: ErrorCode.NOT_FOUND,
    message: /bucket "nope" does not exist/,
  });
  await t.rejects(writer.commit!([{ checkpointId: 1, staged: { entries: [] } }]), NotFoundError);

  const keyed = sinks.kv<Count>({ bucket: "counts", key: (c) => c.word }).createWriter(ctx);
  t.throws(() => keyed.write({ word: "two words", count: 1 }, undefined), InvalidArgumentError);
  t.throws(() => sinks.kv({ bucket: "bad name", key: String }), {
    code: ErrorCode.INVALID_ARGUMENT,
  });
});
