/**
 * The fence of a leadership term (components/cluster/fencing.ts): while it holds, calls, served
 * subjects and HA writes work; the moment it does not, calls are refused with STALE_LEADER, its
 * served subjects leave requests to the new leader's server (no one else: no responders), writes
 * are refused, and reads still work.
 */
import t from "tap";
import { fencedFabric, fencedStores } from "../../../components/cluster/fencing.ts";
import { localFabric } from "../../../components/cluster/mod.ts";
import { ErrorCode, JobState } from "../../../components/core/mod.ts";
import type { DispatcherStores } from "../../../components/dispatcher/mod.ts";
import { send } from "../../../components/rpc/mod.ts";
import { echoBlock } from "../../support/echo_block.ts";

function fence() {
  let active = true;
  return { who: "node-a", active: () => active, lose: () => (active = false) };
}

t.test("calls and served subjects stop the moment the fence is lost", async (t) => {
  const inner = localFabric();
  const f = fence();
  const fenced = fencedFabric(inner, f);
  fenced.serve("fenced.echo", echoBlock());
  inner.serve("plain.echo", echoBlock());
  const get = (fabric: typeof inner, subject: string) =>
    send(fabric.transportFor(subject), { method: "GET", path: "/ping", headers: {} });

  t.equal((await get(fenced, "plain.echo")).status, 200, "a call out while leading");
  t.equal((await get(inner, "fenced.echo")).status, 200, "a call in while leading");
  f.lose();
  await t.rejects(get(fenced, "plain.echo"), {
    code: ErrorCode.STALE_LEADER,
    message: /node-a no longer leads: a call to plain.echo was refused/,
  });
  await t.rejects(get(inner, "fenced.echo"), { code: ErrorCode.UNAVAILABLE }, "no answer now");
  // The new leader serves the same subject: every request reaches it, none the deposed one.
  const deposed = fenced.serve("fenced.echo", echoBlock());
  const successor = echoBlock();
  inner.serve("fenced.echo", successor);
  for (let i = 0; i < 4; i++) t.equal((await get(inner, "fenced.echo")).status, 200);
  const calls = await send(inner.transportFor("fenced.echo"), {
    method: "GET",
    path: "/calls",
    headers: {},
  });
  t.same(
    JSON.parse(new TextDecoder().decode(calls.body)),
    { calls: 4 },
    "the successor answered all of them",
  );
  await deposed.stop();
});

t.test("HA writes are refused once the fence is lost; reads still work", async (t) => {
  const writes: string[] = [];
  const stores = {
    blobs: {
      put: async () => {
        writes.push("blob");
        return "sha";
      },
      get: async () => undefined,
      has: async () => false,
      list: async () => [],
      remove: async () => void writes.push("blob-removed"),
    },
    jobs: {
      put: async () => void writes.push("job"),
      list: async () => [],
      remove: async () => void writes.push("job-removed"),
    },
    results: {
      put: async () => void writes.push("result"),
      get: async () => undefined,
      list: async () => [],
      remove: async () => void writes.push("result-removed"),
    },
    checkpoints: {
      add: async () => void writes.push("checkpoint"),
      latest: async () => undefined,
      removeJob: async () => void writes.push("checkpoints-removed"),
    },
    snapshots: {} as DispatcherStores["snapshots"],
  } satisfies DispatcherStores;
  const f = fence();
  const fenced = fencedStores(stores, f);
  const result = {
    jobId: "j",
    name: "n",
    state: JobState.FINISHED,
    restarts: 0,
    checkpoints: 0,
    submittedAt: 0,
    finishedAt: 0,
  };
  await fenced.results.put(result);
  await fenced.jobs.remove("j");
  t.same(writes, ["result", "job-removed"], "writes go through while leading");
  f.lose();
  await t.rejects(fenced.results.put(result), { code: ErrorCode.STALE_LEADER });
  await t.rejects(
    fenced.jobs.put({ jobId: "j", name: "n", artifact: "a", args: {}, submittedAt: 0 }),
    {
      code: ErrorCode.STALE_LEADER,
    },
  );
  await t.rejects(fenced.checkpoints.removeJob("j"), { code: ErrorCode.STALE_LEADER });
  await t.rejects(fenced.blobs.put(new Uint8Array(1)), { code: ErrorCode.STALE_LEADER });
  await t.rejects(fenced.blobs.remove("sha"), { code: ErrorCode.STALE_LEADER });
  await t.rejects(fenced.results.remove("j"), { code: ErrorCode.STALE_LEADER });
  t.same(writes, ["result", "job-removed"], "nothing written after the fence was lost");
  t.same(await fenced.jobs.list(), [], "reads still work");
  t.equal(await fenced.results.get("j"), undefined);
});
