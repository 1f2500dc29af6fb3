/**
 * When a JobManager is done with a TaskManager's slot (it freed it, or it is lost), the
 * subtasks' pending reports are dropped rather than retried until the report deadline; an offer
 * nobody answers frees the slot at its deadline. Report and offer deadlines are ten minutes here
 * (the heartbeat timeout) unless a test shortens them, so each outcome below proves the deadline
 * was not what ended the wait.
 */
import t, { type Test } from "tap";
import { ErrorCode, subjects, TaskState } from "../../../components/core/mod.ts";
import { until } from "../../support/poll.ts";
import { ANY, CLUSTER, JM, JOB, TM, taskManagerFor } from "./fixtures.ts";

const SLOT = `${TM}_0`;
const allocate = { jobId: JOB, allocationId: "alloc-1", jmSubject: JM, profile: ANY };

async function running(t: Test, options: Parameters<typeof taskManagerFor>[1] = {}) {
  const setup = await taskManagerFor(t, options);
  const { request, tm, jm, descriptor } = setup;
  await request("POST", `/slots/${SLOT}/allocate`, { json: allocate, token: 1 });
  await until(() => tm.slots()[0]?.state === "active", "the slot active");
  t.equal((await request("POST", "/tasks", { json: descriptor() })).status, 202);
  await jm.states.waitFor((s) => s.some((r) => r.state === TaskState.RUNNING), "the task running");
  return setup;
}

t.test("a slot the JobManager freed: the task's reports stop being retried", async (t) => {
  const { request, tm, peers, calls } = await running(t);
  // The JobManager stops answering; the cancel's reports (canceling, canceled) are retried.
  peers.delete(JM);
  const before = calls.get(JM) ?? 0;
  t.match(await request("POST", `/jobs/${JOB}/cancel`, { json: { attempt: 0 } }), {
    status: 200,
    body: { canceled: 1 },
  });
  await until(() => (calls.get(JM) ?? 0) > before + 2, "the state reports retried");
  t.match(tm.runningTasks(), [{ state: TaskState.CANCELED }], "kept while its reports are retried");

  t.match(await request("POST", `/slots/${SLOT}/free`, { json: { allocationId: "alloc-1" } }), {
    status: 200,
    body: { freed: true },
  });
  // A task leaves the table once its report queue ended: the freed slot ended it.
  await until(() => tm.runningTasks().length === 0, "the task's reports dropped", {
    timeoutMs: 5000,
  });
  t.same(tm.slots()[0], { slotId: SLOT, index: 0, profile: ANY, state: "free" });
});

t.test("a lost JobManager: its tasks canceled, its slots freed, its reports dropped", async (t) => {
  // JobManagers are pinged every 20 ms; twice "no responders" is lost (the report deadline stays
  // ten minutes).
  const { tm, peers, jm } = await running(t, { heartbeatIntervalMs: 20 });
  await jm.offers.waitFor((o) => o.length >= 2, "the heartbeat offering the slot again");
  peers.delete(JM);
  await until(
    () => tm.slots().every((s) => s.state === "free") && tm.runningTasks().length === 0,
    "the slot freed and the task gone",
    { timeoutMs: 5000 },
  );
  t.pass("freed on the loss, not at a report deadline");
});

t.test(
  "a slot no JobManager holds any more: freed with its task at the next heartbeat",
  async (t) => {
    const { tm, peers, jm } = await running(t, { heartbeatIntervalMs: 20 });
    // It answers the offers, but accepts none: to the TaskManager it holds nothing.
    jm.state.holds.clear();
    jm.state.takesNew = false;
    await until(() => tm.slots()[0]?.state === "free", "the slot nobody holds freed");
    await until(() => tm.runningTasks().length === 0, "its task gone", { timeoutMs: 5000 });
    t.ok(peers.has(JM), "while the JobManager was there all along");
    t.equal(jm.lost.items.length, 0, "and was not lost");
  },
);

t.test("a JobManager lost while it still answers is told the slots are gone", async (t) => {
  const { tm, jm } = await running(t, { heartbeatIntervalMs: 20 });
  // Its offers answer UNAVAILABLE (twice in a row is lost), its other routes still work.
  jm.state.unavailable = true;
  const [notice] = await jm.lost.waitFor((l) => l.length === 1, "the lost notice");
  t.match(notice, { tmId: TM, reason: /TaskManager tm-u freed the job's slots: JobManager lost/ });
  t.equal(tm.slots()[0]?.state, "free");
});

t.test("an offer nobody answers frees the slot at the offer deadline", async (t) => {
  const { request, tm, calls } = await taskManagerFor(t, {
    heartbeatIntervalMs: 100,
    heartbeatTimeoutMs: 300,
  });
  // A job whose JobManager nobody serves.
  const silentJob = "fedcba9876543210fedcba9876543210";
  const nobody = subjects.jobManager(CLUSTER, silentJob);
  t.equal(
    (
      await request("POST", `/slots/${SLOT}/allocate`, {
        json: { ...allocate, jobId: silentJob, jmSubject: nobody },
        token: 1,
      })
    ).status,
    200,
  );
  await until(() => tm.slots()[0]?.state === "free", "the unaccepted slot freed");
  t.ok((calls.get(nobody) ?? 0) >= 2, "after trying more than once");
});

t.test("an offer the JobManager refuses frees the slot at once", async (t) => {
  const { request, tm, jm } = await taskManagerFor(t);
  jm.state.takesNew = false;
  await request("POST", `/slots/${SLOT}/allocate`, { json: allocate, token: 1 });
  await jm.offers.waitFor((o) => o.length === 1, "the offer");
  await until(() => tm.slots()[0]?.state === "free", "the refused slot freed");
  t.equal(jm.offers.items.length, 1, "one offer: a refusal is an answer");
  t.match(
    await request("POST", "/tasks", {
      json: {
        jobId: JOB,
        attempt: 0,
        vertexId: "0-source",
        subtask: 0,
        allocationId: "alloc-1",
        jmSubject: JM,
        artifact: "0".repeat(64),
      },
    }),
    { status: 409, body: { code: ErrorCode.CONFLICT } },
  );
});
