/**
 * The store contracts, written once and run against every implementation (memory here,
 * JetStream KV and Object Store in test/integration/ha).
 */
import { createHash } from "node:crypto";
import type { Test } from "tap";
import { ErrorCode, JobState, StaleLeaderError } from "../../../components/core/mod.ts";
import type { CompletedCheckpoint } from "../../../components/dataflow/internal_mod.ts";
import {
  blobSnapshotStore,
  type HaServices,
  JobResultState,
  type LeaderFence,
  type SubmittedJob,
} from "../../../components/ha/mod.ts";

const ARTIFACT = createHash("sha256").update("bundle").digest("hex");

export function sampleJob(jobId: string, submittedAt = Date.now()): SubmittedJob {
  return {
    jobId,
    name: `job ${jobId}`,
    artifact: ARTIFACT,
    args: { input: "in.txt" },
    submittedAt,
  };
}

export function sampleCheckpoint(jobId: string, checkpointId: number): CompletedCheckpoint {
  return {
    jobId,
    jobName: "wordcount",
    checkpointId,
    timestamp: 1_700_000_000_000 + checkpointId,
    savepoint: false,
    vertices: {
      "0-source": {
        parallelism: 2,
        maxParallelism: 128,
        handles: [
          `checkpoints/${jobId}/${checkpointId}/0-source/0`,
          `checkpoints/${jobId}/${checkpointId}/0-source/1`,
        ],
      },
    },
  };
}

const staleFence: LeaderFence = {
  role: "dispatcher",
  token: 1,
  check: async () => {
    throw new StaleLeaderError("token 1 of dispatcher was replaced");
  },
};

/** Job ids that need escaping in a KV key. */
const AWKWARD_IDS = ["job/with/slashes", "job.with.dots", "job with spaces", "jöb=ü", "a"];

export function storeContract(t: Test, setup: (t: Test) => Promise<HaServices>): void {
  t.test("job graph store: round trip, list, replace, remove, typed errors", async (t) => {
    const { jobGraphs } = await setup(t);
    t.equal(await jobGraphs.find("nope"), undefined);
    await t.rejects(jobGraphs.get("nope"), { code: ErrorCode.NOT_FOUND, message: /nope/ });
    for (const [i, id] of AWKWARD_IDS.entries()) await jobGraphs.put(sampleJob(id, 1000 + i));
    for (const [i, id] of AWKWARD_IDS.entries()) {
      t.same(await jobGraphs.get(id), sampleJob(id, 1000 + i));
    }
    t.same(
      (await jobGraphs.list()).map((j) => j.jobId),
      AWKWARD_IDS,
      "listed oldest submission first, with their ids intact",
    );
    await jobGraphs.put({ ...sampleJob("a", 1004), parallelism: 4, savepoint: "savepoints/x/3" });
    t.match(await jobGraphs.get("a"), { parallelism: 4, savepoint: "savepoints/x/3" }, "replaced");
    await jobGraphs.remove("job.with.dots");
    await jobGraphs.remove("job.with.dots"); // removes are retried: not an error
    t.equal(await jobGraphs.find("job.with.dots"), undefined);
    t.equal((await jobGraphs.list()).length, AWKWARD_IDS.length - 1);
    await t.rejects(jobGraphs.put({ ...sampleJob("bad"), artifact: "not-a-sha" }), {
      code: ErrorCode.INVALID_ARGUMENT,
      message: /sha256/,
    });
    await t.rejects(jobGraphs.put({ ...sampleJob("bad"), parallelism: 0 }), {
      code: ErrorCode.INVALID_ARGUMENT,
    });
    const bounds = { map: { parallelism: { lowerBound: 1, upperBound: 3 } } };
    await jobGraphs.put({ ...sampleJob("a", 1004), resourceRequirements: bounds });
    t.same((await jobGraphs.get("a")).resourceRequirements, bounds, "bounds a PUT set are kept");
    await t.rejects(
      jobGraphs.put({
        ...sampleJob("bad"),
        resourceRequirements: { map: { parallelism: { lowerBound: 0, upperBound: 3 } } },
      }),
      { code: ErrorCode.INVALID_ARGUMENT, message: /vertex 'map'/ },
    );
    await t.rejects(jobGraphs.get(""), { code: ErrorCode.INVALID_ARGUMENT });
  });

  t.test("job result store: a job ends once", async (t) => {
    const { jobResults } = await setup(t);
    await t.rejects(jobResults.get("j1"), { code: ErrorCode.NOT_FOUND });
    const finished = { jobId: "j1", state: JobResultState.FINISHED, finishedAt: 2000, restarts: 1 };
    await jobResults.put(finished);
    await jobResults.put(finished); // the same result again (a retried put) is fine
    await t.rejects(
      jobResults.put({ ...finished, state: JobResultState.CANCELED, finishedAt: 3000 }),
      {
        code: ErrorCode.CONFLICT,
        message: /job j1 already ended \(FINISHED/,
      },
    );
    t.same(await jobResults.get("j1"), finished, "the first result stays");
    const failed = {
      jobId: "j/2",
      state: JobResultState.FAILED,
      error: { code: "INTERNAL", message: "boom" },
      finishedAt: 1000,
    };
    await jobResults.put(failed);
    t.same(await jobResults.list(), [failed, finished], "earliest end first");
    await t.rejects(
      jobResults.put({ jobId: "j3", state: JobState.RUNNING as never, finishedAt: 1 }),
      {
        code: ErrorCode.INVALID_ARGUMENT,
        message: /FINISHED, FAILED, CANCELED/,
      },
    );
  });

  t.test("job result store: remove forgets a result (the jobstore's expiry)", async (t) => {
    const { jobResults } = await setup(t);
    const ended = { jobId: "old", state: JobResultState.FINISHED, finishedAt: 1 };
    await jobResults.put(ended);
    await jobResults.put({ ...ended, jobId: "new", finishedAt: 2 });
    await jobResults.remove("old");
    t.equal(await jobResults.find("old"), undefined, "forgotten");
    t.same(
      (await jobResults.list()).map((r) => r.jobId),
      ["new"],
    );
    await jobResults.remove("old"); // absent is fine: an expiry retried by the next term
    await t.rejects(jobResults.remove("new", { fence: staleFence }), {
      code: ErrorCode.STALE_LEADER,
    });
    t.ok(await jobResults.find("new"), "a fenced remove removes nothing");
  });

  t.test("checkpoint store: keeps the latest N per job, latest, removeJob", async (t) => {
    const { checkpoints } = await setup(t);
    t.equal(checkpoints.retained, 3);
    t.equal(await checkpoints.latest("job-1"), undefined);
    for (const id of [1, 2, 3, 4, 5]) await checkpoints.add(sampleCheckpoint("job-1", id));
    await checkpoints.add(sampleCheckpoint("job-1.x", 7)); // a job id that extends another
    await checkpoints.add(sampleCheckpoint("job-1", 2)); // older than all kept: dropped at once
    t.same(
      (await checkpoints.list("job-1")).map((c) => c.checkpointId),
      [3, 4, 5],
      "the latest 3, ascending",
    );
    t.same(await checkpoints.latest("job-1"), sampleCheckpoint("job-1", 5));
    t.same(await checkpoints.latest("job-1.x"), sampleCheckpoint("job-1.x", 7));
    await checkpoints.removeJob("job-1");
    t.same(await checkpoints.list("job-1"), []);
    t.equal(await checkpoints.latest("job-1"), undefined);
    t.ok(await checkpoints.latest("job-1.x"), "the other job keeps its checkpoints");
    await t.rejects(checkpoints.add({ ...sampleCheckpoint("job-1", 1), checkpointId: -1 }), {
      code: ErrorCode.INVALID_ARGUMENT,
    });
  });

  t.test("fenced writes are refused with STALE_LEADER and write nothing", async (t) => {
    const { jobGraphs, jobResults, checkpoints } = await setup(t);
    const fence = { fence: staleFence };
    await t.rejects(jobGraphs.put(sampleJob("f"), fence), { code: ErrorCode.STALE_LEADER });
    await t.rejects(jobGraphs.remove("f", fence), { code: ErrorCode.STALE_LEADER });
    await t.rejects(
      jobResults.put({ jobId: "f", state: JobResultState.FINISHED, finishedAt: 1 }, fence),
      StaleLeaderError,
    );
    await t.rejects(checkpoints.add(sampleCheckpoint("f", 1), fence), StaleLeaderError);
    await t.rejects(checkpoints.removeJob("f", fence), StaleLeaderError);
    t.same(await jobGraphs.list(), []);
    t.same(await jobResults.list(), []);
    t.same(await checkpoints.list("f"), []);
  });

  t.test("a record over the size limit fails with PAYLOAD_TOO_LARGE naming its size", async (t) => {
    const { jobGraphs } = await setup(t);
    const big = { ...sampleJob("big"), args: { data: "x".repeat(1_500_000) } };
    await t.rejects(jobGraphs.put(big), {
      code: ErrorCode.PAYLOAD_TOO_LARGE,
      message: /value of 1500\d{3} bytes .* 1048576 bytes/,
    });
    t.equal(await jobGraphs.find("big"), undefined);
  });

  t.test("blob store: content addresses, keys, prefixes, 2 MB blobs", async (t) => {
    const { blobs } = await setup(t);
    const bytes = new TextEncoder().encode("export default defineJob(...)");
    const address = await blobs.put(bytes);
    t.equal(address, createHash("sha256").update(bytes).digest("hex"), "sha256 of the bytes");
    t.equal(await blobs.put(bytes), address, "the same content, the same address");
    t.same(await blobs.get(address), bytes);
    t.ok(await blobs.has(address));
    t.notOk(await blobs.has("f".repeat(64)));
    await t.rejects(blobs.get("missing/key"), { code: ErrorCode.NOT_FOUND, message: /missing/ });

    const large = new Uint8Array(2 * 1024 * 1024);
    for (let i = 0; i < large.length; i++) large[i] = (i * 7919) % 251;
    const largeAddress = await blobs.put(large);
    t.equal(largeAddress, createHash("sha256").update(large).digest("hex"));
    const back = await blobs.get(largeAddress);
    t.equal(back.byteLength, large.byteLength);
    t.ok(Buffer.from(back).equals(Buffer.from(large)), "2 MB come back intact");

    await blobs.putKey("checkpoints/j/3/0-source/0", new Uint8Array([1]));
    await blobs.putKey("checkpoints/j/3/0-source/1", new Uint8Array([2]));
    await blobs.putKey("checkpoints/j/30/0-source/0", new Uint8Array([3]));
    await blobs.putKey("checkpoints/j/3/0-source/1", new Uint8Array([4])); // replaces
    t.same(await blobs.get("checkpoints/j/3/0-source/1"), new Uint8Array([4]));
    t.equal(await blobs.delete("checkpoints/j/3/"), 2);
    t.notOk(await blobs.has("checkpoints/j/3/0-source/0"));
    t.ok(await blobs.has("checkpoints/j/30/0-source/0"), "only that prefix");
    t.ok(await blobs.has(address));
    await t.rejects(blobs.delete(""), { code: ErrorCode.INVALID_ARGUMENT });
  });

  t.test(
    "blob store: list by prefix with sizes and times (what the artifact sweep reads)",
    async (t) => {
      const { blobs } = await setup(t);
      const before = Date.now() - 60_000;
      const address = await blobs.put(new Uint8Array([1, 2, 3]));
      await blobs.putKey("checkpoints/j/1/0-source/0", new Uint8Array([4]));
      const all = await blobs.list();
      t.same(all.map((b) => b.key).sort(), [address, "checkpoints/j/1/0-source/0"].sort());
      const [artifact] = all.filter((b) => b.key === address);
      t.equal(artifact?.size, 3);
      t.ok((artifact?.modified ?? 0) > before, "when it was written");
      t.same(
        (await blobs.list("checkpoints/")).map((b) => b.key),
        ["checkpoints/j/1/0-source/0"],
      );
      await blobs.delete(address);
      t.same(
        (await blobs.list()).map((b) => b.key),
        ["checkpoints/j/1/0-source/0"],
        "a deleted blob is not listed",
      );
      await blobs.putKey("checkpoints/j/1/0-source/00", new Uint8Array([1]));
      t.equal(await blobs.deleteKey("checkpoints/j/1/0-source/0"), true, "one key deleted");
      t.equal(await blobs.deleteKey("checkpoints/j/1/0-source/0"), false, "none there now");
      t.same(
        (await blobs.list()).map((b) => b.key),
        ["checkpoints/j/1/0-source/00"],
        "a key it is a prefix of stays",
      );
    },
  );

  t.test("blobSnapshotStore: the runtime's SnapshotStore on the blob store", async (t) => {
    const { blobs } = await setup(t);
    const store = blobSnapshotStore(blobs);
    t.equal(store.location, blobs.location);
    await store.put("checkpoints/j/3/_metadata", new Uint8Array([9]));
    await store.put("checkpoints/j/30/_metadata", new Uint8Array([8]));
    t.same(await store.get("checkpoints/j/3/_metadata"), new Uint8Array([9]));
    t.equal(await store.get("checkpoints/j/4/_metadata"), undefined, "missing is undefined");
    await store.deletePrefix("checkpoints/j/3");
    t.equal(await store.get("checkpoints/j/3/_metadata"), undefined);
    t.same(
      await store.get("checkpoints/j/30/_metadata"),
      new Uint8Array([8]),
      "a prefix is a directory: checkpoint 30 is not under checkpoint 3",
    );
    await store.put("checkpoints/j/5/v/0", new Uint8Array([5]));
    await store.put("checkpoints/j/5/v/1", new Uint8Array([6]));
    await store.deleteKeys!(["checkpoints/j/5/v/0", "checkpoints/j/5/v/9"]);
    t.equal(await store.get("checkpoints/j/5/v/0"), undefined, "a key deleted");
    t.same(await store.get("checkpoints/j/5/v/1"), new Uint8Array([6]), "only the keys given");
  });
}
