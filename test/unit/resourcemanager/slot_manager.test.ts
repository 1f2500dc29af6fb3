/** SlotManager: matching, requirement changes, reconciliation, loss, idle release, the driver. */
import t from "tap";
import { type AllocationId, type JobId, newJobId, slotId } from "../../../components/core/mod.ts";
import { ANY_PROFILE, profile } from "../../../components/resourcemanager/mod.ts";
import {
  allocations,
  dynamicTaskManager,
  fixedTaskManager,
  kinds,
  reportOf,
  slotManager,
  tmId,
} from "./fixtures.ts";

const small = profile(1, 1024);
const big = profile(4, 8192);
const gpu = profile(1, 1024, { gpu: 1 });
const jm = (job: JobId) => `t.jm.${job}`;

t.test("matching by profile: the smallest slot that covers the requirement", async (t) => {
  const { sm } = slotManager();
  sm.registerTaskManager(fixedTaskManager("tm-a", [big, small, gpu]));
  const job = newJobId();
  const got = allocations(
    sm.declareRequirements(job, jm(job), [
      { profile: profile(0.5, 512), count: 1 },
      { profile: profile(2, 4096), count: 1 },
    ]),
  );
  t.same(
    got.map((a) => [a.slotId, a.profile]).sort(),
    [
      [slotId(tmId("tm-a"), 0), big],
      [slotId(tmId("tm-a"), 1), small],
    ].sort(),
    "the big requirement got the big slot, the small one the small slot (not the GPU)",
  );
  t.match(got[0], {
    kind: "allocate",
    tmId: "tm-a",
    subject: "t.tm.tm-a",
    jobId: job,
    jmSubject: jm(job),
    allocationId: /^alloc-/,
  });
  t.not(got[0]!.allocationId, got[1]!.allocationId);
});

t.test("extended resources: a GPU requirement only goes to a GPU slot", async (t) => {
  const { sm } = slotManager();
  sm.registerTaskManager(fixedTaskManager("tm-a", [big, big]));
  const job = newJobId();
  const first = sm.declareRequirements(job, jm(job), [{ profile: gpu, count: 1 }]);
  t.same(allocations(first), [], "no slot has a GPU");
  t.match(first, [{ kind: "unfulfillable", jobId: job, missing: [{ profile: gpu, count: 1 }] }]);
  const later = allocations(sm.registerTaskManager(fixedTaskManager("tm-g", [gpu])));
  t.match(later, [{ tmId: "tm-g", slotId: slotId(tmId("tm-g"), 0), profile: gpu }]);
});

t.test("ANY: an ANY requirement takes any slot; an ANY slot takes any requirement", async (t) => {
  const { sm } = slotManager();
  sm.registerTaskManager(fixedTaskManager("tm-a", [gpu]));
  const j1 = newJobId();
  t.match(allocations(sm.declareRequirements(j1, jm(j1), [{ profile: ANY_PROFILE, count: 1 }])), [
    { tmId: "tm-a", profile: gpu },
  ]);
  sm.registerTaskManager(fixedTaskManager("tm-any", [ANY_PROFILE]));
  const j2 = newJobId();
  t.match(allocations(sm.declareRequirements(j2, jm(j2), [{ profile: big, count: 1 }])), [
    { tmId: "tm-any" },
  ]);
});

t.test("requirements: a new declaration replaces the old one; nothing is revoked", async (t) => {
  const { sm } = slotManager();
  sm.registerTaskManager(fixedTaskManager("tm-a", [small, small, small, small]));
  const job = newJobId();
  t.equal(
    allocations(sm.declareRequirements(job, jm(job), [{ profile: small, count: 2 }])).length,
    2,
  );
  t.equal(
    allocations(sm.declareRequirements(job, jm(job), [{ profile: small, count: 2 }])).length,
    0,
    "the same declaration again allocates nothing",
  );
  t.equal(
    allocations(
      sm.declareRequirements(job, jm(job), [
        { profile: small, count: 1 },
        { profile: small, count: 2 },
      ]),
    ).length,
    1,
    "equal profiles are merged: 3 wanted, 2 held",
  );
  t.same(
    sm.declareRequirements(job, jm(job), [{ profile: small, count: 1 }]),
    [],
    "fewer: no action",
  );
  t.equal(sm.overview().slotsFree, 1, "the job keeps its 3 slots until its JobManager frees them");
  t.same(sm.jobs()[0]?.missing, []);
  t.ok(sm.clearRequirements(job));
  t.notOk(sm.hasJob(job));
  t.notOk(sm.clearRequirements(job), "twice: nothing to clear");
});

t.test("fine-grained: a slot of exactly the requested profile is carved out", async (t) => {
  const { sm } = slotManager();
  sm.registerTaskManager(dynamicTaskManager("tm-d", profile(4, 4096, { gpu: 1 })));
  const j1 = newJobId();
  const carved = allocations(
    sm.declareRequirements(j1, jm(j1), [
      { profile: profile(1, 1000), count: 2 },
      { profile: profile(1, 1000, { gpu: 1 }), count: 1 },
    ]),
  );
  t.same(
    carved.map((a) => a.slotId),
    ["tm-d_0", "tm-d_1", "tm-d_2"],
    "new slot ids, in order",
  );
  t.same(
    carved.map((a) => a.profile),
    [profile(1, 1000, { gpu: 1 }), profile(1, 1000), profile(1, 1000)],
    "exactly the requested profiles, biggest first",
  );
  t.same(sm.taskManager(tmId("tm-d"))?.freeResources, profile(1, 1096));

  const j2 = newJobId();
  const second = sm.declareRequirements(j2, jm(j2), [{ profile: profile(2, 1000), count: 1 }]);
  t.same(second, [], "does not fit the rest, fits the TaskManager: waits, no unfulfillable");

  const freed = sm.reportSlots(tmId("tm-d"), [
    reportOf(carved[0]!, 0, "free"),
    reportOf(carved[1]!, 1),
    reportOf(carved[2]!, 2),
  ]);
  t.same(allocations(freed), [], "reports of unconfirmed allocations are not trusted");
  for (const a of carved) sm.allocationConfirmed(a.allocationId);
  sm.declareRequirements(j1, jm(j1), [{ profile: profile(1, 1000), count: 2 }]);
  const after = sm.reportSlots(tmId("tm-d"), [reportOf(carved[1]!, 1), reportOf(carved[2]!, 2)]);
  t.match(allocations(after), [{ jobId: j2, slotId: "tm-d_3", profile: profile(2, 1000) }]);
});

t.test("fine-grained: ANY carves the default slot profile; fixed slots come first", async (t) => {
  const { sm } = slotManager();
  sm.registerTaskManager(dynamicTaskManager("tm-d", profile(4, 4096)));
  const job = newJobId();
  t.match(allocations(sm.declareRequirements(job, jm(job), [{ profile: ANY_PROFILE, count: 1 }])), [
    { tmId: "tm-d", profile: profile(1, 1024) },
  ]);
  sm.registerTaskManager(
    dynamicTaskManager("tm-e", profile(4, 4096), { defaultSlotProfile: profile(2, 2048) }),
  );
  sm.registerTaskManager(fixedTaskManager("tm-f", [big]));
  t.match(allocations(sm.declareRequirements(job, jm(job), [{ profile: ANY_PROFILE, count: 3 }])), [
    { tmId: "tm-f" },
    { tmId: "tm-d", profile: profile(1, 1024) },
  ]);
  const j2 = newJobId();
  t.match(allocations(sm.declareRequirements(j2, jm(j2), [{ profile: ANY_PROFILE, count: 1 }])), [
    { tmId: "tm-d", profile: profile(1, 1024) },
  ]);
});

t.test("reports reconcile: free again, allocated elsewhere, vanished, learned", async (t) => {
  const { sm } = slotManager();
  sm.registerTaskManager(fixedTaskManager("tm-a", [small, small]));
  const job = newJobId();
  const [a] = allocations(sm.declareRequirements(job, jm(job), [{ profile: small, count: 1 }]));
  sm.allocationConfirmed(a!.allocationId);
  sm.clearRequirements(job);
  const second = {
    slotId: slotId(tmId("tm-a"), 1),
    index: 1,
    profile: small,
    state: "free" as const,
  };
  t.equal(a!.slotId, slotId(tmId("tm-a"), 0));
  sm.reportSlots(tmId("tm-a"), [reportOf(a!, 0, "active"), second]);
  t.equal(sm.taskManager(tmId("tm-a"))?.slots[0]?.state, "active", "the TaskManager's state wins");
  t.equal(sm.overview().slotsFree, 1);
  sm.reportSlots(tmId("tm-a"), [reportOf(a!, 0, "free"), second]);
  t.equal(sm.overview().slotsFree, 2, "the slot the TaskManager reports free is free again");
  t.same(sm.taskManager(tmId("tm-a"))?.slots[0], {
    slotId: a!.slotId,
    index: 0,
    profile: small,
    state: "free",
    pending: false,
  });

  // A slot the RM did not allocate (e.g. before an RM failover) counts for its job.
  const other = newJobId();
  sm.reportSlots(tmId("tm-a"), [
    { slotId: slotId(tmId("tm-a"), 0), index: 0, profile: small, state: "active", jobId: other },
    { slotId: slotId(tmId("tm-a"), 1), index: 1, profile: small, state: "free" },
  ]);
  t.same(
    allocations(sm.declareRequirements(other, jm(other), [{ profile: small, count: 1 }])),
    [],
    "already held",
  );
  t.equal(sm.overview().pendingRequirements, 0);

  sm.reportSlots(tmId("tm-a"), [
    { slotId: slotId(tmId("tm-a"), 0), index: 0, profile: small, state: "active", jobId: other },
  ]);
  t.equal(sm.taskManager(tmId("tm-a"))?.slots.length, 1, "a slot missing from a report is gone");
  t.equal(sm.reportSlots(tmId("nobody"), []), undefined, "unknown TaskManager: register again");
});

t.test("a refused allocation: the slot waits for a report, the job gets another", async (t) => {
  const { sm } = slotManager();
  sm.registerTaskManager(fixedTaskManager("tm-a", [small]));
  sm.registerTaskManager(fixedTaskManager("tm-b", [small]));
  const job = newJobId();
  const [first] = allocations(sm.declareRequirements(job, jm(job), [{ profile: small, count: 1 }]));
  const retry = allocations(sm.allocationFailed(first!.allocationId));
  t.equal(retry.length, 1);
  t.not(retry[0]!.tmId, first!.tmId, "not the same slot again");
  t.same(sm.allocationFailed(first!.allocationId), [], "twice: nothing");
  sm.allocationConfirmed(retry[0]!.allocationId);
  t.notOk(sm.taskManager(retry[0]!.tmId)?.slots[0]?.pending, "confirmed");
  t.equal(sm.overview().slotsFree, 0, "the refusing slot is not offered until reported");
  sm.reportSlots(first!.tmId, [{ ...reportOf(first!, 0, "free") }]);
  t.equal(sm.overview().slotsFree, 1, "reported free: offered again");
});

t.test(
  "a lost TaskManager: its slots vanish, its jobs are named, the job is re-matched",
  async (t) => {
    const { sm } = slotManager();
    sm.registerTaskManager(fixedTaskManager("tm-a", [small, small]));
    const j1 = newJobId();
    const j2 = newJobId();
    allocations(sm.declareRequirements(j1, jm(j1), [{ profile: small, count: 1 }]));
    allocations(sm.declareRequirements(j2, jm(j2), [{ profile: small, count: 1 }]));
    sm.registerTaskManager(fixedTaskManager("tm-b", [small]));
    const actions = sm.unregisterTaskManager(tmId("tm-a"), "heartbeat timed out");
    t.match(actions?.[0], {
      kind: "tm-lost",
      tmId: "tm-a",
      reason: "heartbeat timed out",
      jobs: [
        { jobId: j1, jmSubject: jm(j1) },
        { jobId: j2, jmSubject: jm(j2) },
      ],
    });
    t.match(allocations(actions), [{ tmId: "tm-b", jobId: j1 }], "one slot left: the first job");
    t.notOk(sm.hasTaskManager(tmId("tm-a")));
    t.equal(sm.unregisterTaskManager(tmId("tm-a"), "again"), undefined);
    t.same(sm.unregisterTaskManager(tmId("tm-b"), "gone")?.slice(0, 1), [
      { kind: "tm-lost", tmId: "tm-b", reason: "gone", jobs: [{ jobId: j1, jmSubject: jm(j1) }] },
    ]);
  },
);

t.test("a TaskManager that registers again without its allocations lost them", async (t) => {
  const { sm } = slotManager();
  const reg = fixedTaskManager("tm-a", [small]);
  sm.registerTaskManager(reg);
  const job = newJobId();
  const [a] = allocations(sm.declareRequirements(job, jm(job), [{ profile: small, count: 1 }]));
  const kept = sm.registerTaskManager({ ...reg, slots: [reportOf(a!, 0)] });
  t.same(kinds(kept), [], "still holds the allocation: nothing lost, nothing to allocate");
  const again = sm.registerTaskManager(reg);
  t.same(kinds(again), ["tm-lost", "allocate"], "restarted empty: lost, then matched again");
  t.match(again[0], { jobs: [{ jobId: job }] });
});

t.test("idle TaskManagers are released after the idle timeout, once", async (t) => {
  const { sm, time } = slotManager({ idleTimeoutMs: 30_000 });
  sm.registerTaskManager(fixedTaskManager("tm-a", [small]));
  time.t = 10_000;
  sm.registerTaskManager(fixedTaskManager("tm-b", [small]));
  const job = newJobId();
  const [a] = allocations(sm.declareRequirements(job, jm(job), [{ profile: small, count: 1 }]));
  t.equal(a!.tmId, "tm-a");
  sm.allocationConfirmed(a!.allocationId);

  time.t = 39_999;
  t.same(sm.checkTimeouts(), []);
  time.t = 40_000;
  t.same(
    sm.checkTimeouts(),
    [{ kind: "release-tm", tmId: "tm-b" }],
    "idle 30 s since registration",
  );
  t.same(sm.checkTimeouts(), [], "handed over once");

  time.t = 50_000;
  sm.clearRequirements(job);
  sm.reportSlots(tmId("tm-a"), [reportOf(a!, 0, "free")]);
  t.equal(sm.taskManager(tmId("tm-a"))?.idleSince, 50_000, "idle since its slot came back");
  time.t = 79_999;
  t.same(sm.checkTimeouts(), []);
  time.t = 80_000;
  t.same(sm.checkTimeouts(), [{ kind: "release-tm", tmId: "tm-a" }]);

  sm.releaseDeclined(tmId("tm-a"));
  time.t = 200_000;
  t.same(sm.checkTimeouts(), [], "declined: kept until busy and idle again");
  const j2 = newJobId();
  const [b] = allocations(sm.declareRequirements(j2, jm(j2), [{ profile: small, count: 1 }]));
  t.equal(b!.tmId, "tm-a", "a kept TaskManager still serves; the releasing one does not");
  sm.allocationConfirmed(b!.allocationId);
  sm.clearRequirements(j2);
  sm.reportSlots(tmId("tm-a"), [reportOf(b!, 0, "free")]);
  time.t = 230_000;
  t.same(sm.checkTimeouts(), [{ kind: "release-tm", tmId: "tm-a" }]);
});

t.test(
  "no driver: what the whole cluster cannot give is unfulfillable, reported once",
  async (t) => {
    const { sm } = slotManager();
    sm.registerTaskManager(fixedTaskManager("tm-a", [small, small]));
    const job = newJobId();
    const actions = sm.declareRequirements(job, jm(job), [{ profile: small, count: 3 }]);
    t.same(kinds(actions), ["allocate", "allocate", "unfulfillable"]);
    t.match(actions[2], {
      kind: "unfulfillable",
      jobId: job,
      jmSubject: jm(job),
      missing: [{ profile: small, count: 1 }],
    });
    t.same(sm.checkTimeouts(), [], "not again while nothing changed");
    t.same(
      kinds(sm.declareRequirements(job, jm(job), [{ profile: small, count: 3 }])),
      ["unfulfillable"],
      "a new declaration is answered again",
    );
    t.same(kinds(sm.registerTaskManager(fixedTaskManager("tm-b", [small]))), ["allocate"]);
    t.equal(sm.overview().pendingRequirements, 0);
  },
);

t.test("no driver, slots busy with another job: the job waits, no unfulfillable", async (t) => {
  const { sm } = slotManager();
  sm.registerTaskManager(fixedTaskManager("tm-a", [small]));
  const j1 = newJobId();
  const [a] = allocations(sm.declareRequirements(j1, jm(j1), [{ profile: small, count: 1 }]));
  sm.allocationConfirmed(a!.allocationId);
  const j2 = newJobId();
  t.same(sm.declareRequirements(j2, jm(j2), [{ profile: small, count: 1 }]), []);
  t.equal(sm.overview().pendingRequirements, 1);
  sm.clearRequirements(j1);
  t.match(allocations(sm.reportSlots(tmId("tm-a"), [reportOf(a!, 0, "free")])), [{ jobId: j2 }]);
});

t.test("a driver that can start TaskManagers: request-tm per missing slot, once", async (t) => {
  const startable = (p: { cpu: number }) => p.cpu <= 4;
  const { sm, time } = slotManager({
    canStartTaskManager: startable,
    pendingTaskManagerTimeoutMs: 60_000,
  });
  const job = newJobId();
  const huge = profile(16, 65536);
  const actions = sm.declareRequirements(job, jm(job), [
    { profile: small, count: 2 },
    { profile: huge, count: 1 },
  ]);
  t.same(kinds(actions), ["request-tm", "request-tm", "unfulfillable"]);
  t.same(
    actions.filter((a) => a.kind === "request-tm"),
    [
      { kind: "request-tm", profile: small },
      { kind: "request-tm", profile: small },
    ],
  );
  t.match(
    actions.find((a) => a.kind === "unfulfillable"),
    {
      missing: [{ profile: huge, count: 1 }],
    },
  );
  t.equal(sm.overview().pendingTaskManagers, 2);
  t.same(kinds(sm.checkTimeouts()), [], "pending TaskManagers are not asked for again");

  t.same(kinds(sm.registerTaskManager(fixedTaskManager("tm-1", [small]))), ["allocate"]);
  t.equal(sm.overview().pendingTaskManagers, 1, "the registration answered one request");

  time.t = 60_000;
  t.same(
    sm.checkTimeouts(),
    [{ kind: "request-tm", profile: small }],
    "a request that never registered expires and is made again",
  );
  sm.taskManagerRequestFailed(small);
  t.equal(sm.overview().pendingTaskManagers, 0);
  t.same(kinds(sm.checkTimeouts()), [], "a failed start is not retried on every tick");
  time.t += 1000;
  t.same(kinds(sm.checkTimeouts()), ["request-tm"], "but after a second");
  sm.taskManagerRequestFailed(small);
  time.t += 1999;
  t.same(kinds(sm.checkTimeouts()), [], "the next wait is doubled");
  time.t += 1;
  t.same(kinds(sm.checkTimeouts()), ["request-tm"]);
  sm.taskManagerRequestSucceeded(small);
  sm.taskManagerRequestFailed(small);
  time.t += 1000;
  t.same(kinds(sm.checkTimeouts()), ["request-tm"], "a success resets the back-off to a second");
});

t.test("allocation(): what a JobManager checks an offer against", async (t) => {
  const { sm } = slotManager();
  sm.registerTaskManager(fixedTaskManager("tm-a", [small, small]));
  const job = newJobId();
  const [a, b] = allocations(sm.declareRequirements(job, jm(job), [{ profile: small, count: 2 }]));
  // Recorded with the decision, before the TaskManager is called: its first offer finds it.
  t.same(sm.allocation(a!.allocationId), {
    allocationId: a!.allocationId,
    jobId: job,
    tmId: "tm-a",
    slotId: a!.slotId,
    tmSubject: "t.tm.tm-a",
    pending: true,
  });
  sm.allocationConfirmed(a!.allocationId);
  t.match(sm.allocation(a!.allocationId), { pending: false });
  t.equal(sm.allocation("alloc-unknown" as AllocationId), undefined, "never made");
  sm.allocationFailed(b!.allocationId);
  t.equal(sm.allocation(b!.allocationId), undefined, "refused by its TaskManager");
  sm.reportSlots(tmId("tm-a"), [reportOf(a!, 0, "releasing"), reportOf(b!, 1, "free")]);
  t.equal(sm.allocation(a!.allocationId), undefined, "being released: the job no longer holds it");

  // A new RM (after a failover) learns the allocations from the TaskManagers' registrations.
  const { sm: next } = slotManager();
  next.registerTaskManager({
    ...fixedTaskManager("tm-a", [small, small]),
    slots: [reportOf(a!, 0, "active"), reportOf(b!, 1, "free")],
  });
  t.match(next.allocation(a!.allocationId), { jobId: job, tmId: "tm-a", slotId: a!.slotId });
  t.equal(next.allocation(b!.allocationId), undefined);
});

t.test(
  "a job asking for 32,768 slots: work in what is placed and asked, not the count",
  async (t) => {
    const { sm } = slotManager({ canStartTaskManager: () => true, maxPendingTaskManagers: 8 });
    sm.registerTaskManager(fixedTaskManager("tm-a", [small, small]));
    const job = newJobId();
    const actions = sm.declareRequirements(job, jm(job), [{ profile: small, count: 32_768 }]);
    t.equal(allocations(actions).length, 2, "both free slots allocated");
    t.equal(
      actions.filter((a) => a.kind === "request-tm").length,
      8,
      "the driver is asked for maxPendingTaskManagers, not 32,766",
    );
    t.equal(sm.overview().pendingTaskManagers, 8);
    t.same(kinds(sm.checkTimeouts()), [], "nothing more is asked while those are pending");
    const other = newJobId();
    const more = sm.declareRequirements(other, jm(other), [{ profile: small, count: 5 }]);
    t.same(kinds(more), [], "another job waits for room too: the cap is for the RM, not per job");
  },
);
