/**
 * A JobManager takes an offered slot only for an allocation the ResourceManager made for its job
 * on that TaskManager and slot (every TaskManager connects as the same NATS user, so an offer
 * alone proves nothing). In-process, against a fake RM that mounts the real RM contract.
 */
import { Writable } from "node:stream";
import t from "tap";
import {
  type AllocationId,
  createLogger,
  JobState,
  newJobId,
  type SlotId,
  subjects,
  type TaskManagerId,
} from "../../../components/core/mod.ts";
import type {
  AllocationInfo,
  JobStatus,
  SlotOfferAnswer,
} from "../../../components/protocol/mod.ts";
import { until } from "../../support/poll.ts";
import { CLUSTER, setup } from "./fixtures.ts";

const ANY = { cpu: 0, memoryMb: 0, extended: {} };

/** A real logger whose JSON lines land in an array. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger({ level: "debug", destination }), lines };
}

const REFUSED = /^slot offer of TaskManager \S+ refused/;

function withLog(t: { teardown(fn: () => unknown): void }) {
  const { log, lines } = capturingLogger();
  const s = setup(t, { options: { log } });
  const refusals = () => lines.filter((l) => REFUSED.test(String(l.msg)));
  return { ...s, refusals };
}

const accepted = (res: { body: unknown }) => (res.body as SlotOfferAnswer).accepted;

t.test("an offer the ResourceManager never allocated is refused; no task goes there", async (t) => {
  const s = withLog(t);
  await s.jm.start();
  const forged = await s.offer(2, 0, { allocatedByRm: false });
  t.equal(forged.status, 200);
  t.same(accepted(forged), [], "neither slot taken");
  t.same([...s.rm.lookups.items].sort(), ["alloc-0", "alloc-1"], "each new slot asked of the RM");
  const [line, ...more] = await until(() => s.refusals().length > 0 && s.refusals(), "a warning");
  t.same(more, [], "one warning for the offer, not one per slot");
  t.match(line, {
    level: 40,
    tm: "tm-1",
    refused: 2,
    allocations: [
      { allocationId: "alloc-0", why: "is unknown to the ResourceManager" },
      { allocationId: "alloc-1" },
    ],
    msg: "slot offer of TaskManager tm-1 refused: allocation alloc-0 is unknown to the ResourceManager (and 1 more)",
  });
  t.match((await s.call("GET", "/status")).body as JobStatus, { state: JobState.CREATED });

  const real = await s.offer(2, 10);
  t.same(accepted(real), ["tm-1_10", "tm-1_11"], "the RM's allocations are taken");
  await s.taskManager.deployed.waitFor((d) => d.length === 4, "the four subtasks deployed");
  t.same(
    [...new Set(s.taskManager.deployed.items.map((d) => d.allocationId))].sort(),
    ["alloc-10", "alloc-11"],
    "every subtask went to a slot the RM allocated",
  );

  const lookups = s.rm.lookups.items.length;
  t.same(accepted(await s.offer(2, 10)), ["tm-1_10", "tm-1_11"], "a held allocation re-offered");
  t.equal(s.rm.lookups.items.length, lookups, "a re-offer of a held allocation is not asked again");
  const taken = await s.call("POST", "/slots/offer", {
    tmId: "tm-1",
    tmSubject: s.taskManager.subject,
    slots: [{ slotId: "tm-1_10", allocationId: "alloc-0", profile: ANY }],
  });
  t.same(accepted(taken), [], "a held slot offered with another allocation is not taken");
  t.equal(s.taskManager.deployed.items.length, 4, "nothing more deployed");
});

t.test("an allocation the RM made for another job, TaskManager or slot is refused", async (t) => {
  const s = withLog(t);
  await s.jm.start();
  const { tmId, subject: tmSubject } = s.taskManager;
  /** What the RM would answer for `allocationId` made for this job on `slotId`, then `changed`. */
  const record = (allocationId: string, slotId: string, changed: Partial<AllocationInfo> = {}) =>
    s.rm.made.set(allocationId as AllocationId, {
      allocationId: allocationId as AllocationId,
      jobId: s.jobId,
      tmId,
      slotId: slotId as SlotId,
      tmSubject,
      pending: false,
      ...changed,
    });
  const cases: { why: RegExp; changed: Partial<AllocationInfo> }[] = [
    { why: /was allocated to job/, changed: { jobId: newJobId() } },
    { why: /was allocated on TaskManager tm-2/, changed: { tmId: "tm-2" as TaskManagerId } },
    { why: /was allocated for slot tm-1_7/, changed: { slotId: "tm-1_7" as SlotId } },
    { why: /answering on t\.elsewhere/, changed: { tmSubject: "t.elsewhere" } },
  ];
  for (const [i, { why, changed }] of cases.entries()) {
    const allocationId = `alloc-x${i}`;
    record(allocationId, `tm-1_${i}`, changed);
    const res = await s.call("POST", "/slots/offer", {
      tmId,
      tmSubject,
      slots: [{ slotId: `tm-1_${i}`, allocationId, profile: ANY }],
    });
    t.same(accepted(res), [], `refused: ${why}`);
    await until(() => s.refusals().length === i + 1, "its warning");
    t.match(s.refusals()[i], { allocations: [{ allocationId, why }] });
  }
  t.equal(s.taskManager.deployed.items.length, 0, "nothing deployed");

  // One genuine and one forged slot in the same offer: only the genuine one is taken.
  record("alloc-20", "tm-1_20");
  const mixed = await s.call("POST", "/slots/offer", {
    tmId,
    tmSubject,
    slots: [
      { slotId: "tm-1_21", allocationId: "alloc-21", profile: ANY },
      { slotId: "tm-1_20", allocationId: "alloc-20", profile: ANY },
    ],
  });
  t.same(accepted(mixed), ["tm-1_20"]);
});

t.test("the RM cannot be asked: the offer is refused for now, taken once it answers", async (t) => {
  const s = withLog(t);
  await s.jm.start();
  const rmSubject = subjects.resourceManager(CLUSTER);
  const rmApp = s.peers.get(rmSubject)!;
  s.peers.delete(rmSubject);
  t.same(accepted(await s.offer(2)), [], "nothing taken while the RM is away");
  await until(() => s.refusals().length === 1, "the warning");
  t.match(s.refusals()[0], {
    refused: 2,
    allocations: [{ why: /could not be checked: the ResourceManager did not answer/ }],
  });
  s.peers.set(rmSubject, rmApp);
  t.same(accepted(await s.offer(2)), ["tm-1_0", "tm-1_1"], "offered again: taken");
  await s.taskManager.deployed.waitFor((d) => d.length === 4, "the four subtasks deployed");
});

t.test("a slot no group needs is not asked of the RM", async (t) => {
  const s = withLog(t);
  await s.jm.start();
  t.same(accepted(await s.offer(3)), ["tm-1_0", "tm-1_1"], "two taken, the third not needed");
  t.same([...s.rm.lookups.items].sort(), ["alloc-0", "alloc-1"], "the third was not looked up");
  t.same(s.refusals(), [], "and no warning for it");
});
