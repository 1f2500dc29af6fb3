/**
 * A TaskManager and the JobManagers of its slots, over a real nats-server: its heartbeat to a
 * job's JobManager offers the job's active slots again, so a JobManager that took over after a
 * failover gets them, a slot no JobManager holds is freed, and a slot is kept while any
 * JobManager answering for the job holds it (an old one that has not stopped yet holds none).
 */
import t from "tap";
import { type AllocationId, type JobId, JobState, subjects } from "../../../components/core/mod.ts";
import { blobSnapshotStore, memoryBlobStore } from "../../../components/ha/mod.ts";
import {
  jobManagerTaskRoutes,
  type ResourceProfile,
  type TaskManagerSlotApp,
} from "../../../components/protocol/mod.ts";
import {
  createClient,
  fencingHeaders,
  natsTransport,
  serveNats,
  unwrap,
} from "../../../components/rpc/mod.ts";
import { createTaskManager } from "../../../components/taskmanager/mod.ts";
import { until } from "../../support/poll.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

const JOB = "0123456789abcdef0123456789abcdef" as JobId;
const ANY: ResourceProfile = { cpu: 0, memoryMb: 0, extended: {} };

/** A JobManager from its contract that holds the allocations in `holds` and, while `takesNew`, any offered. */
function fakeJobManager(takesNew: boolean) {
  const state = { holds: new Set<AllocationId>(), takesNew, offers: 0 };
  const ignored = () => {};
  const app = jobManagerTaskRoutes({
    heartbeat: () => ({ jobId: JOB, state: JobState.RUNNING }),
    offerSlots(offer) {
      state.offers++;
      const accepted = offer.slots.filter((s) => {
        if (state.takesNew) state.holds.add(s.allocationId);
        return state.holds.has(s.allocationId);
      });
      return { accepted: accepted.map((s) => s.slotId) };
    },
    taskState: ignored,
    taskMetrics: ignored,
    acknowledgeCheckpoint: ignored,
    declineCheckpoint: ignored,
    sourceEnded: ignored,
    results: ignored,
  });
  return { state, app };
}

t.test("JobManagers come and go: the TaskManager's slots follow them", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const tm = createTaskManager({
    clusterId: "t",
    tmId: "tm-x",
    transportFor: (subject) => natsTransport(nc, subject),
    channelsFor: () => {
      throw new Error("no tasks here");
    },
    artifacts: { get: async () => undefined },
    snapshots: blobSnapshotStore(memoryBlobStore()),
    slots: [ANY, ANY],
    heartbeatIntervalMs: 50,
    heartbeatTimeoutMs: 2000,
  });
  const served = serveNats(tm.app, { nc, subject: tm.subject });
  t.teardown(async () => {
    await tm.stop();
    await served.stop();
  });
  const jmSubject = subjects.jobManager("t", JOB);
  const first = fakeJobManager(true);
  const firstServed = serveNats(first.app, { nc, subject: jmSubject });
  const rm = createClient<TaskManagerSlotApp>(natsTransport(nc, tm.subject), {
    headers: fencingHeaders(1),
  });
  await unwrap(
    rm.slots[":slotId"].allocate.$post({
      param: { slotId: "tm-x_0" },
      json: { jobId: JOB, allocationId: "alloc-1", jmSubject, profile: ANY },
    }),
  );
  const slot = () => tm.slots().find((s) => s.slotId === "tm-x_0")!;
  await until(() => slot().state === "active", "the slot active");
  await until(() => first.state.offers >= 4, "offers again with the heartbeats");
  t.equal(slot().state, "active", "the JobManager holding it keeps it active");

  // The JobManager is replaced: the new one gets the slot from the next heartbeat.
  await firstServed.stop();
  const second = fakeJobManager(true);
  const secondServed = serveNats(second.app, { nc, subject: jmSubject });
  t.teardown(() => secondServed.stop());
  await until(
    () => second.state.holds.has("alloc-1" as AllocationId),
    "the new JobManager offered the slot",
  );
  t.equal(slot().state, "active", "and it stays active");

  // An old JobManager still answering (it holds nothing of the new one's) does not free it.
  const stale = fakeJobManager(false);
  const staleServed = serveNats(stale.app, { nc, subject: jmSubject });
  await until(() => stale.state.offers >= 4, "the old one refused some offers");
  t.equal(slot().state, "active", "kept while any JobManager holds it");
  await staleServed.stop();

  // No JobManager holds it any more: freed.
  second.state.holds.clear();
  second.state.takesNew = false;
  await until(() => slot().state === "free", "the slot freed");
  t.pass("freed once no JobManager holds it");
});
