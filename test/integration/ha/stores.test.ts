/**
 * The store contracts on JetStream (KV bucket and Object Store), and what only a real server
 * shows: values survive a restart (file storage), calls fail typed while the server is away and
 * work again after, and max_payload is respected both ways.
 */
import { createHash } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import t from "tap";
import { ErrorCode } from "../../../components/core/mod.ts";
import { JobResultState, natsHaServices } from "../../../components/ha/mod.ts";
import { connectFor, natsFor } from "../../support/tap.ts";
import { sampleCheckpoint, sampleJob, storeContract } from "../../unit/ha/store_contract.ts";

t.test("JetStream stores", async (t) => {
  storeContract(t, async (t) => {
    const server = await natsFor(t);
    return natsHaServices({ nc: await connectFor(t, server), clusterId: "test" });
  });
});

t.test("records and blobs survive a nats-server restart", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const ha = await natsHaServices({ nc, clusterId: "test" });
  await ha.jobGraphs.put(sampleJob("j1", 1));
  await ha.jobResults.put({ jobId: "j0", state: JobResultState.CANCELED, finishedAt: 5 });
  for (const id of [1, 2, 3, 4]) await ha.checkpoints.add(sampleCheckpoint("j1", id));
  const blob = new Uint8Array(300 * 1024).map((_, i) => i % 256);
  const address = await ha.blobs.put(blob);

  await server.restart();

  // The same services object, over the same (reconnecting) connection.
  t.same(await ha.jobGraphs.get("j1"), sampleJob("j1", 1));
  t.same(await ha.jobResults.get("j0"), {
    jobId: "j0",
    state: JobResultState.CANCELED,
    finishedAt: 5,
  });
  t.same(
    (await ha.checkpoints.list("j1")).map((c) => c.checkpointId),
    [2, 3, 4],
  );
  t.ok(Buffer.from(await ha.blobs.get(address)).equals(Buffer.from(blob)));
  await t.rejects(
    ha.jobResults.put({ jobId: "j0", state: JobResultState.FINISHED, finishedAt: 6 }),
    {
      code: ErrorCode.CONFLICT,
    },
  );

  // And through a fresh process's view: a new connection and new services.
  const again = await natsHaServices({ nc: await connectFor(t, server), clusterId: "test" });
  t.same(
    (await again.jobGraphs.list()).map((j) => j.jobId),
    ["j1"],
  );
  t.equal((await again.checkpoints.latest("j1"))?.checkpointId, 4);
  t.ok(await again.blobs.has(address));
});

t.test("removed records leave nothing in the bucket: no delete marker per key", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const ha = await natsHaServices({ nc, clusterId: "test" });
  const manager = await jetstreamManager(nc);
  const messages = async () => (await manager.streams.info("KV_flotilla_test")).state.messages;
  for (let id = 1; id <= 50; id++) await ha.checkpoints.add(sampleCheckpoint("j1", id));
  // A delete would have left 47 markers beside the 3 kept checkpoints.
  t.equal(await messages(), 3, "the 3 retained checkpoints only");
  for (let i = 0; i < 20; i++) {
    await ha.jobGraphs.put(sampleJob(`j${i}`, i));
    await ha.jobResults.put({ jobId: `j${i}`, state: JobResultState.FINISHED, finishedAt: i });
  }
  for (let i = 0; i < 20; i++) {
    await ha.jobGraphs.remove(`j${i}`);
    await ha.jobResults.remove(`j${i}`);
  }
  await ha.checkpoints.removeJob("j1");
  t.equal(await messages(), 0, "nothing is left of 20 jobs and their checkpoints");
  // Forgotten is absent: a result can be written again, as after a delete.
  await ha.jobResults.put({ jobId: "j3", state: JobResultState.CANCELED, finishedAt: 9 });
  t.equal((await ha.jobResults.get("j3")).state, JobResultState.CANCELED);
});

t.test(
  "while the server is down calls fail typed within their deadline, then work again",
  async (t) => {
    const server = await natsFor(t);
    const nc = await connectFor(t, server);
    const ha = await natsHaServices({ nc, clusterId: "test", timeoutMs: 800, blobTimeoutMs: 800 });
    await ha.jobGraphs.put(sampleJob("j1", 1));
    const address = await ha.blobs.put(new Uint8Array([1, 2, 3]));

    await server.kill();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ["jobGraphs.get", () => ha.jobGraphs.get("j1")],
      ["jobGraphs.put", () => ha.jobGraphs.put(sampleJob("j2", 2))],
      ["jobResults.list", () => ha.jobResults.list()],
      ["checkpoints.latest", () => ha.checkpoints.latest("j1")],
      ["blobs.get", () => ha.blobs.get(address)],
      ["blobs.put", () => ha.blobs.put(new Uint8Array([4]))],
    ];
    for (const [name, call] of calls) {
      // Settling at all (typed, not hanging on the dead server) is the deadline at work.
      await t.rejects(
        call(),
        { code: ErrorCode.UNAVAILABLE, retryable: true },
        `${name} fails typed`,
      );
    }
    await t.rejects(natsHaServices({ nc, clusterId: "other", timeoutMs: 500 }), {
      code: ErrorCode.UNAVAILABLE,
    });

    await server.start();
    const ok = await natsHaServices({ nc, clusterId: "test" }); // default deadline rides out the reconnect
    t.same(await ok.jobGraphs.get("j1"), sampleJob("j1", 1));
    t.same(await ok.blobs.get(address), new Uint8Array([1, 2, 3]));
    await ha.jobGraphs.put(sampleJob("j2", 2));
    t.same(
      (await ha.jobGraphs.list()).map((j) => j.jobId),
      ["j1", "j2"],
    );
  },
);

t.test(
  "a small max_payload: records over it are refused, blobs are chunked under it",
  async (t) => {
    const server = await natsFor(t, { maxPayload: 64 * 1024 });
    const ha = await natsHaServices({ nc: await connectFor(t, server), clusterId: "test" });
    await t.rejects(ha.jobGraphs.put({ ...sampleJob("big"), args: { data: "x".repeat(80_000) } }), {
      code: ErrorCode.PAYLOAD_TOO_LARGE,
      message: /value of 80\d{3} bytes for jobs\.big .* max_payload of 65536 bytes/,
    });
    const blob = new Uint8Array(500 * 1024).map((_, i) => (i * 31) % 256);
    const address = await ha.blobs.put(blob);
    t.equal(address, createHash("sha256").update(blob).digest("hex"));
    t.ok(Buffer.from(await ha.blobs.get(address)).equals(Buffer.from(blob)));
  },
);

t.test("bad cluster ids are refused before touching NATS", async (t) => {
  const server = await natsFor(t);
  await t.rejects(natsHaServices({ nc: await connectFor(t, server), clusterId: "a.b" }), {
    code: ErrorCode.INVALID_ARGUMENT,
    message: /cluster id "a.b" cannot name a JetStream bucket/,
  });
});
