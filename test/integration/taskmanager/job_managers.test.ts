/**
 * A TaskManager and the JobManagers of its slots, over a real nats-server: its heartbeat to a
 * job's JobManager offers the job's active slots again, so a JobManager that took over after a
 * failover gets them, a slot no JobManager holds is freed, and a slot is kept while any
 * JobManager answering for the job holds it (an old one that has not stopped yet holds none).
 */
import t from "tap";
import { z } from "zod";
import { subjects } from "../../../components/core/mod.ts";
import { blobSnapshotStore, memoryBlobStore } from "../../../components/ha/mod.ts";
import {
  body,
  createBlock,
  createClient,
  fencingHeaders,
  natsTransport,
  reply,
  serveNats,
  unwrap,
} from "../../../components/rpc/mod.ts";
import { createTaskManager, type TaskManagerApp } from "../../../components/taskmanager/mod.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

const JOB = "0123456789abcdef0123456789abcdef";
const ANY = { cpu: 0, memoryMb: 0, extended: {} };
const offerSchema = z.object({
  tmId: z.string(),
  tmSubject: z.string(),
  slots: z.array(z.object({ slotId: z.string(), allocationId: z.string() }).passthrough()),
});

/** A JobManager that holds the allocations in `holds` and, while `takesNew`, any offered. */
function fakeJobManager(takesNew: boolean) {
  const state = { holds: new Set<string>(), takesNew, offers: 0 };
  const app = createBlock()
    .get("/heartbeat", (c) => reply(c, { jobId: JOB, state: "running" }))
    .post("/slots/offer", body(offerSchema), (c) => {
      state.offers++;
      const accepted = c.req.valid("json").slots.filter((s) => {
        if (state.takesNew) state.holds.add(s.allocationId);
        return state.holds.has(s.allocationId);
      });
      return reply(c, { accepted: accepted.map((s) => s.slotId) });
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
  const rm = createClient<TaskManagerApp>(natsTransport(nc, tm.subject), {
    headers: fencingHeaders(1),
  });
  await unwrap(
    rm.slots[":slotId"].allocate.$post({
      param: { slotId: "tm-x_0" },
      json: { jobId: JOB, allocationId: "alloc-1", jmSubject, profile: ANY },
    }),
  );
  const slot = () => tm.slots().find((s) => s.slotId === "tm-x_0")!;
  const until = async (what: string, test: () => boolean) => {
    const deadline = Date.now() + 3000;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  await until("the slot active", () => slot().state === "active");
  await until("offers again with the heartbeats", () => first.state.offers >= 4);
  t.equal(slot().state, "active", "the JobManager holding it keeps it active");

  // The JobManager is replaced: the new one gets the slot from the next heartbeat.
  await firstServed.stop();
  const second = fakeJobManager(true);
  const secondServed = serveNats(second.app, { nc, subject: jmSubject });
  t.teardown(() => secondServed.stop());
  await until("the new JobManager offered the slot", () => second.state.holds.has("alloc-1"));
  t.equal(slot().state, "active", "and it stays active");

  // An old JobManager still answering (it holds nothing of the new one's) does not free it.
  const stale = fakeJobManager(false);
  const staleServed = serveNats(stale.app, { nc, subject: jmSubject });
  await until("the old one refused some offers", () => stale.state.offers >= 4);
  t.equal(slot().state, "active", "kept while any JobManager holds it");
  await staleServed.stop();

  // No JobManager holds it any more: freed.
  second.state.holds.clear();
  second.state.takesNew = false;
  await until("the slot freed", () => slot().state === "free");
  t.pass("freed once no JobManager holds it");
});
