/** sinks.jetstream against a real nats-server: staged until commit, re-commits de-duplicated. */
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import t from "tap";
import { cbor, ErrorCode, NotFoundError } from "../../../components/core/mod.ts";
import { type JetStreamStaged, sinks } from "../../../components/dataflow/sinks/mod.ts";
import { testContext } from "../../support/dataflow.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

/** Staged data as it comes back from a checkpoint: through CBOR. */
const viaCheckpoint = <T>(value: T): T => cbor.decode(cbor.encode(value)) as T;

async function setup(t: { teardown(fn: () => unknown): void }) {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "OUT", subjects: ["out.>"] });
  const context = (overrides = {}) => {
    const ctx = testContext({ natsUrl: server.url, ...overrides });
    t.teardown(() => ctx.close());
    return ctx;
  };
  return { jsm, context };
}

/** Every message of the stream as [subject, decoded JSON, msg id]. */
async function contents(jsm: JetStreamManager, stream = "OUT") {
  const { state } = await jsm.streams.info(stream);
  const out: Array<[string, unknown, string | undefined]> = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (m) out.push([m.subject, m.json(), m.header?.get("Nats-Msg-Id") || undefined]);
  }
  return out;
}

t.test(
  "stage, commit, and a re-commit after a simulated failure store each record once",
  async (t) => {
    const { jsm, context } = await setup(t);
    const ctx = context({ operatorId: "sink1", subtask: 2 });
    const writer = sinks.jetstream<{ n: number }>({ subject: "out.records" }).createWriter(ctx);
    await writer.drain?.();
    for (let n = 0; n < 5; n++) writer.write({ n }, undefined);
    const cp1 = { checkpointId: 1, staged: writer.prepareCommit!(1) };
    t.same(await contents(jsm), [], "nothing published before the commit");

    await writer.commit!([cp1]);
    const once = await contents(jsm);
    t.same(
      once.map(([, v]) => v),
      [0, 1, 2, 3, 4].map((n) => ({ n })),
    );
    t.equal(once[0]![2], `${ctx.jobId}.sink1.2.1.0`, "deterministic message id");

    writer.write({ n: 5 }, undefined);
    const cp2 = { checkpointId: 2, staged: writer.prepareCommit!(2) };
    // The task fails after committing checkpoint 1 but before 2; the restored writer commits both
    // again (the checkpoint holds everything not yet committed), from a CBOR-like deep copy.
    const restored = sinks
      .jetstream({ subject: "out.records" })
      .createWriter(context({ attempt: 1 }));
    await restored.commit!(viaCheckpoint([cp1, cp2]));
    await restored.commit!(viaCheckpoint([cp2]));
    t.same(
      (await contents(jsm)).map(([, v]) => v),
      [0, 1, 2, 3, 4, 5].map((n) => ({ n })),
      "each record exactly once, in order",
    );
  },
);

t.test("subjects per record, custom ids and encoders; the named stream is enforced", async (t) => {
  const { jsm, context } = await setup(t);
  const writer = sinks
    .jetstream<{ id: string; region: string }>({
      stream: "OUT",
      subject: (v) => `out.${v.region}`,
      msgId: (v) => `order-${v.id}`,
      encode: (v) => ({ order: v.id }),
    })
    .createWriter(context());
  writer.write({ id: "a", region: "eu" }, undefined);
  writer.write({ id: "b", region: "us" }, undefined);
  writer.write({ id: "a", region: "eu" }, undefined); // same id: de-duplicated by the stream
  await writer.commit!([{ checkpointId: 1, staged: writer.prepareCommit!(1) }]);
  t.same(await contents(jsm), [
    ["out.eu", { order: "a" }, "order-a"],
    ["out.us", { order: "b" }, "order-b"],
  ]);
  const staged = writer.prepareCommit!(2) as JetStreamStaged;
  t.same(staged.messages, [], "a barrier with no records stages nothing");
});

t.test("without checkpoints: finish publishes; at-least-once publishes on drain", async (t) => {
  const { jsm, context } = await setup(t);
  const finishing = sinks.jetstream({ subject: "out.end" }).createWriter(context());
  finishing.write("x", undefined);
  finishing.write("y", undefined);
  t.same(await contents(jsm), []);
  await finishing.finish!();
  t.same(
    (await contents(jsm)).map(([, v]) => v),
    ["x", "y"],
  );

  const direct = sinks
    .jetstream({ subject: "out.direct", deliveryGuarantee: "at-least-once" })
    .createWriter(context());
  direct.write(1, undefined);
  direct.write(2, undefined);
  await direct.drain!();
  t.same(
    (await contents(jsm)).slice(2).map(([, v, id]) => [v, id]),
    [
      [1, undefined],
      [2, undefined],
    ],
  );
  t.equal(direct.prepareCommit!(1), undefined, "nothing staged at a barrier");
});

t.test(
  "a missing stream or one for no stream is a NOT_FOUND error at the first drain",
  async (t) => {
    const { context } = await setup(t);
    const named = sinks.jetstream({ subject: "out.x", stream: "MISSING" }).createWriter(context());
    await t.rejects(named.drain!()!, {
      code: ErrorCode.NOT_FOUND,
      message: /"MISSING" does not exist/,
    });
    named.write(1, undefined);
    await t.rejects(
      named.commit!([{ checkpointId: 1, staged: named.prepareCommit!(1) }]),
      NotFoundError,
    );

    const unrouted = sinks.jetstream({ subject: "nowhere.x" }).createWriter(context());
    await t.rejects(unrouted.drain!()!, {
      code: ErrorCode.NOT_FOUND,
      message: /subject "nowhere.x"/,
    });

    const computed = sinks.jetstream<string>({ subject: (v) => v }).createWriter(context());
    computed.write("nowhere.y", undefined);
    await t.rejects(computed.commit!([{ checkpointId: 1, staged: computed.prepareCommit!(1) }]), {
      code: ErrorCode.NOT_FOUND,
      message: /"nowhere.y"/,
    });
    t.throws(() => sinks.jetstream({ subject: "out.*" }), { code: ErrorCode.INVALID_ARGUMENT });
  },
);
