/**
 * The JobManager's app in-process (`app.request`, no sockets, no NATS): every route of its
 * contract, the happy path and bad input, against fake peers that mount the real contracts.
 */
import t from "tap";
import { JobState, TaskState } from "../../../components/core/mod.ts";
import type {
  JobOutcome,
  JobStatus,
  SavepointTaken,
  SlotOfferAnswer,
} from "../../../components/protocol/mod.ts";
import { until } from "../../support/poll.ts";
import { calls, setup, twoByTwo, twoByTwoJob } from "./fixtures.ts";

const ANY = { cpu: 0, memoryMb: 0, extended: {} };
const status = async (s: ReturnType<typeof setup>) =>
  (await s.call("GET", "/status")).body as JobStatus;
const inState = (s: ReturnType<typeof setup>, state: JobState) =>
  until(async () => (await status(s)).state === state, `the job ${state}`);

/** Runs the job on two offered slots; resolves once its four subtasks run. */
async function running(s: ReturnType<typeof setup>, attempt = 0) {
  if (attempt === 0) {
    await s.jm.start();
    const offered = await s.offer(2);
    if (offered.status !== 200) throw new Error(`offer refused: ${JSON.stringify(offered.body)}`);
  }
  const deployed = await s.taskManager.deployed.waitFor(
    (d) => d.filter((x) => x.attempt === attempt).length === 4,
    `the four subtasks of attempt ${attempt}`,
  );
  await s.report(attempt, TaskState.RUNNING);
  return deployed.filter((d) => d.attempt === attempt);
}

t.test("from declaration to finished: offers, deploys, reports, results, release", async (t) => {
  const s = setup(t);
  t.equal(await s.jm.start(), true, "the ResourceManager answered the declaration");
  const [declared] = await s.rm.declared.waitFor((d) => d.length === 1, "a declaration");
  t.same(declared, { jmSubject: s.jm.subject, requirements: [{ profile: ANY, count: 2 }] });
  t.same((await s.call("GET", "/heartbeat")).body, { jobId: s.jobId, state: JobState.CREATED });
  t.match(await status(s), { state: JobState.CREATED, attempt: 0, scheduler: "default" });

  const offered = await s.offer(3);
  t.equal(offered.status, 200);
  t.same(
    (offered.body as SlotOfferAnswer).accepted,
    ["tm-1_0", "tm-1_1"],
    "two slots taken, the third not needed",
  );
  const deployed = await running(s, 0);
  t.same(
    deployed.map((d) => [d.vertexId, d.subtask, d.allocationId, d.jmSubject, d.artifact]),
    [
      ["0-sequence-source", 0, "alloc-0", s.jm.subject, "a".repeat(64)],
      ["0-sequence-source", 1, "alloc-1", s.jm.subject, "a".repeat(64)],
      ["2-map", 0, "alloc-0", s.jm.subject, "a".repeat(64)],
      ["2-map", 1, "alloc-1", s.jm.subject, "a".repeat(64)],
    ],
    "subtask i of each vertex in the group's slot i",
  );
  const metrics = await s.call("POST", "/tasks/metrics", {
    attempt: 0,
    tasks: [{ vertexId: "2-map", subtask: 1, metrics: { recordsIn: 7, recordsOut: 5 } }],
  });
  t.same(metrics, { status: 200, body: { acknowledged: true } });
  const now = await status(s);
  t.match(now, { state: JobState.RUNNING, attempt: 0 });
  t.match(now.vertices[1], {
    id: "2-map",
    parallelism: 2,
    tasks: { RUNNING: 2 },
    recordsIn: 7,
    recordsOut: 5,
    subtasks: [
      { subtask: 0, taskmanager: "tm-1" },
      { subtask: 1, recordsIn: 7 },
    ],
  });

  for (const batchId of ["b1", "b1", "b2"])
    t.equal(
      (await s.call("POST", "/results", { sinkId: "out", values: [batchId], batchId })).status,
      200,
    );
  t.same((await s.call("GET", "/results")).body, { out: ["b1", "b2"] }, "a batch counts once");

  await s.report(0, TaskState.FINISHED);
  const outcome = await s.jm.outcome;
  t.same(outcome, {
    jobId: s.jobId,
    state: JobState.FINISHED,
    restarts: 0,
    rescales: 0,
    checkpoints: 0,
  });
  const freed = await s.taskManager.freed.waitFor((f) => f.length === 2, "both slots freed");
  t.same(
    freed.map((f) => [f.slotId, f.allocationId]),
    [
      ["tm-1_0", "alloc-0"],
      ["tm-1_1", "alloc-1"],
    ],
  );
  t.same(await s.rm.cleared.waitFor((c) => c.length === 1, "requirements cleared"), [s.jobId]);
  const order = calls.filter((c) => c === `clear ${s.jobId}` || c.startsWith("free tm-1_"));
  t.equal(order[0], `clear ${s.jobId}`, "its requirements cleared before its slots are freed");
  t.match(await status(s), { state: JobState.FINISHED });
  t.same((await s.offer(1, 9)).body, { accepted: [] }, "an ended job takes no slot");
});

t.test("bad input: a 400 naming the field; the JobManager keeps serving", async (t) => {
  const s = setup(t);
  const refused = async (method: string, path: string, body: unknown, field: RegExp) => {
    const res = await s.call(method, path, body);
    t.equal(res.status, 400, `${method} ${path} ${JSON.stringify(body)} -> 400`);
    t.match(res.body, { code: "BAD_REQUEST", errors: [field] });
  };
  await refused("POST", "/slots/offer", { tmId: "tm-1", slots: [] }, /'tmSubject'/);
  await refused(
    "POST",
    "/slots/offer",
    { tmId: "tm 1", tmSubject: "t.tm", slots: [{ slotId: "s", allocationId: "a", profile: ANY }] },
    /'tmId': expected a TaskManager id/,
  );
  await refused(
    "POST",
    "/tasks/state",
    { attempt: 0, vertexId: "2-map", subtask: 0, state: "exploded" },
    /'state'/,
  );
  await refused(
    "POST",
    "/tasks/state",
    { attempt: -1, vertexId: "v", subtask: 0, state: TaskState.RUNNING },
    /'attempt'/,
  );
  await refused(
    "POST",
    "/checkpoints/ack",
    { attempt: 0, vertexId: "v", subtask: 0, checkpointId: 0, handle: "h", bytes: 1 },
    /'checkpointId'/,
  );
  await refused(
    "POST",
    "/checkpoints/decline",
    { attempt: 0, vertexId: "v", subtask: 0, checkpointId: 1 },
    /'reason'/,
  );
  await refused("POST", "/sources/ended", { attempt: 0, vertexId: "", subtask: 0 }, /'vertexId'/);
  await refused("POST", "/results", { values: [1] }, /'sinkId'/);
  await refused(
    "POST",
    "/tasks/metrics",
    { attempt: 0, tasks: [{ vertexId: "v", subtask: 0, metrics: { n: "1" } }] },
    /'tasks.0.metrics.n'/,
  );
  await refused(
    "POST",
    "/resources/unavailable",
    { missing: [{ profile: ANY, count: -1 }] },
    /'missing.0.count'/,
  );
  await refused("POST", "/taskmanagers/tm-1/lost", {}, /'reason'/);
  await refused("POST", "/taskmanagers/tm%201/lost", { reason: "gone" }, /TaskManager id/);
  await refused("POST", "/stop", { savepoint: "yes" }, /'savepoint'/);
  await refused("PUT", "/resource-requirements", {}, /name at least one vertex/);
  await refused(
    "PUT",
    "/resource-requirements",
    { "2-map": { parallelism: { lowerBound: 3, upperBound: 2 } } },
    /lowerBound must not be above upperBound/,
  );
  const notJson = await s.call("POST", "/tasks/state", "{not json");
  t.equal(notJson.status, 400, "a body that does not parse is a 400 too");
  t.same(
    (await s.call("GET", "/heartbeat")).body,
    { jobId: s.jobId, state: JobState.CREATED },
    "still serving",
  );
  t.match(await status(s), { state: JobState.CREATED, restarts: 0 }, "and nothing changed");
});

t.test("reports of an unknown attempt, task or checkpoint are ignored", async (t) => {
  const s = setup(t);
  await running(s);
  const ignored = [
    ["/tasks/state", { attempt: 5, vertexId: "2-map", subtask: 0, state: TaskState.FAILED }],
    ["/tasks/state", { attempt: 0, vertexId: "nope", subtask: 0, state: TaskState.FAILED }],
    ["/tasks/state", { attempt: 0, vertexId: "2-map", subtask: 9, state: TaskState.FAILED }],
    [
      "/tasks/metrics",
      { attempt: 3, tasks: [{ vertexId: "2-map", subtask: 0, metrics: { recordsIn: 1 } }] },
    ],
    [
      "/checkpoints/ack",
      { attempt: 4, vertexId: "2-map", subtask: 0, checkpointId: 1, handle: "h", bytes: 1 },
    ],
    [
      "/checkpoints/ack",
      { attempt: 0, vertexId: "2-map", subtask: 0, checkpointId: 77, handle: "h", bytes: 1 },
    ],
    [
      "/checkpoints/decline",
      { attempt: 4, vertexId: "2-map", subtask: 0, checkpointId: 1, reason: "x" },
    ],
    ["/sources/ended", { attempt: 4, vertexId: "0-sequence-source", subtask: 0 }],
    ["/taskmanagers/tm-9/lost", { reason: "never held a slot of this job" }],
  ] as const;
  for (const [path, body] of ignored)
    t.same(await s.call("POST", path, body), { status: 200, body: { acknowledged: true } }, path);
  const now = await status(s);
  t.match(now, { state: JobState.RUNNING, attempt: 0, restarts: 0 }, "the job runs on, untouched");
  t.same(
    now.vertices.map((v) => [v.tasks, v.recordsIn]),
    [
      [{ RUNNING: 2 }, 0],
      [{ RUNNING: 2 }, 0],
    ],
  );
});

t.test(
  "a savepoint: triggered at the sources, acknowledged by every task, confirmed",
  async (t) => {
    const s = setup(t);
    const notYet = await s.call("POST", "/savepoints");
    t.equal(notYet.status, 409, "no savepoint of a job that does not run");
    t.match(notYet.body, {
      code: "CONFLICT",
      errors: [/is CREATED: savepoints need a running job/],
    });
    const tasks = await running(s);
    const answer = s.call("POST", "/savepoints");
    const [trigger] = await s.taskManager.triggered.waitFor((x) => x.length === 1, "a trigger");
    t.same(
      trigger,
      { attempt: 0, final: false, checkpointId: 1 },
      "once per TaskManager running sources",
    );
    for (const d of tasks)
      await s.call("POST", "/checkpoints/ack", {
        attempt: 0,
        vertexId: d.vertexId,
        subtask: d.subtask,
        checkpointId: 1,
        handle: `h-${d.vertexId}-${d.subtask}`,
        bytes: 10,
      });
    const taken = await answer;
    t.equal(taken.status, 201);
    t.same(taken.body as SavepointTaken, { path: `savepoints/${s.jobId}/1` });
    t.same(await s.taskManager.confirmed.waitFor((c) => c.length === 1, "a confirmation"), [1]);
    t.match(await status(s), { checkpoints: 1, lastCheckpoint: { id: 1 } });

    // A declined checkpoint is aborted: the savepoint's caller gets the typed error.
    const declined = s.call("POST", "/savepoints");
    await s.taskManager.triggered.waitFor((x) => x.length === 2, "a second trigger");
    await s.call("POST", "/checkpoints/decline", {
      attempt: 0,
      vertexId: "2-map",
      subtask: 1,
      checkpointId: 2,
      reason: "not ready",
    });
    const failed = await declined;
    t.ok(failed.status >= 400, `a declined savepoint fails (${failed.status})`);
    t.match(failed.body, { errors: [/declined: not ready/] });
    t.match(await status(s), { state: JobState.RUNNING, checkpoints: 1 }, "the job runs on");
  },
);

t.test(
  "cancel: answered at once, proceeds, and a second cancel of the ended job is a 409",
  async (t) => {
    const s = setup(t);
    await running(s);
    const accepted = await s.call("POST", "/cancel");
    t.same(accepted, { status: 202, body: { jobId: s.jobId, state: JobState.CANCELING } });
    t.same(
      (await s.call("POST", "/cancel")).body,
      { jobId: s.jobId, state: JobState.CANCELING },
      "a cancel under way is accepted again",
    );
    t.same(await s.taskManager.canceled.waitFor((c) => c.length >= 1, "the cancel"), [
      { attempt: 0 },
    ]);
    t.match(await s.jm.outcome, { state: JobState.CANCELED, restarts: 0 });
    await s.taskManager.freed.waitFor((f) => f.length === 2, "the slots back");
    const again = await s.call("POST", "/cancel");
    t.equal(again.status, 409);
    t.match(again.body, { code: "CONFLICT", errors: [`job ${s.jobId} already CANCELED`] });
    const late = await s.call("POST", "/stop", { savepoint: false });
    t.equal(late.status, 409, "no stop of an ended job either");
  },
);

t.test("a job waiting for slots is canceled at once", async (t) => {
  const s = setup(t);
  await s.jm.start();
  t.same((await s.call("POST", "/cancel")).status, 202);
  t.match(await s.jm.outcome, { state: JobState.CANCELED });
  t.same(s.taskManager.canceled.items, [], "no task to cancel");
});

t.test("stop with a savepoint answers the job's end; without, it ends canceled", async (t) => {
  const s = setup(t);
  const early = await s.call("POST", "/stop", {});
  t.equal(early.status, 409, "stop-with-savepoint needs a running job");
  const tasks = await running(s);
  const stop = s.call("POST", "/stop", { savepoint: true });
  await s.taskManager.triggered.waitFor((x) => x.length === 1, "the savepoint's trigger");
  const twice = await s.call("POST", "/stop", {});
  t.equal(twice.status, 409, "one stop at a time");
  t.match(twice.body, { errors: [/stopping already/] });
  for (const d of tasks)
    await s.call("POST", "/checkpoints/ack", {
      attempt: 0,
      vertexId: d.vertexId,
      subtask: d.subtask,
      checkpointId: 1,
      handle: "h",
      bytes: 1,
    });
  const stopped = await stop;
  t.equal(stopped.status, 200);
  t.same(stopped.body as JobOutcome, {
    jobId: s.jobId,
    state: JobState.FINISHED,
    restarts: 0,
    rescales: 0,
    checkpoints: 1,
    savepoint: `savepoints/${s.jobId}/1`,
  });

  const plain = setup(t);
  await running(plain);
  const canceled = await plain.call("POST", "/stop", { savepoint: false });
  t.match(canceled, { status: 200, body: { state: JobState.CANCELED } });
});

t.test("a failed task restarts the job by its strategy on the slots it holds", async (t) => {
  const graph = twoByTwo({ restartStrategy: { type: "fixed-delay", attempts: 1, delayMs: 0 } });
  const s = setup(t, { graph });
  await running(s, 0);
  await s.taskFailed(0, "2-map", 1, "boom");
  await running(s, 1);
  t.match(await status(s), { state: JobState.RUNNING, attempt: 1, restarts: 1 });
  t.same(s.rm.declared.items.length, 1, "the slots it held: no new declaration");

  await s.taskFailed(1, "0-sequence-source", 0, "boom again");
  const outcome = await s.jm.outcome;
  t.match(outcome, {
    state: JobState.FAILED,
    restarts: 1,
    error: { code: "INTERNAL", message: /0-sequence-source#0: boom again/ },
  });
});

t.test("a lost TaskManager fails the attempt; the job waits for slots again", async (t) => {
  const graph = twoByTwo({ restartStrategy: { type: "fixed-delay", attempts: 3, delayMs: 0 } });
  const s = setup(t, { graph, reportsCanceled: false });
  await running(s);
  const lost = await s.call("POST", `/taskmanagers/${s.taskManager.tmId}/lost`, {
    reason: "heartbeat timed out",
  });
  t.same(lost, { status: 200, body: { acknowledged: true } });
  await inState(s, JobState.CREATED);
  await s.rm.declared.waitFor((d) => d.length === 2, "the requirements declared again");
  t.match(await status(s), { restarts: 1, attempt: 0 });
  const unavailable = await s.call("POST", "/resources/unavailable", {
    missing: [{ profile: ANY, count: 2 }],
  });
  t.same(unavailable.body, { acknowledged: true });
  t.match(await status(s), { waitingFor: /the ResourceManager cannot provide 2 x/ });
  await s.offer(2, 10);
  await running(s, 1);
  t.same(
    s.taskManager.deployed.items.filter((d) => d.attempt === 1).map((d) => d.allocationId),
    ["alloc-10", "alloc-11", "alloc-10", "alloc-11"],
    "the new slots",
  );
});

t.test("a deployment refused with CONFLICT drops the slot and asks for another", async (t) => {
  const graph = twoByTwo({ restartStrategy: { type: "fixed-delay", attempts: 2, delayMs: 0 } });
  const s = setup(t, { graph });
  await s.jm.start();
  s.taskManager.notHeld.add("alloc-1");
  await s.offer(2);
  await inState(s, JobState.CREATED);
  await s.rm.declared.waitFor((d) => d.length === 2, "declared again");
  t.match(await status(s), { restarts: 1 });
  s.taskManager.notHeld.clear();
  t.same(((await s.offer(1, 5)).body as SlotOfferAnswer).accepted, ["tm-1_5"]);
  await running(s, 1);
});

t.test(
  "task.cancellation.timeout: tasks that never report stopped hold a cancel up no longer",
  async (t) => {
    const s = setup(t, { reportsCanceled: false, options: { taskCancellationTimeoutMs: 50 } });
    await running(s);
    t.equal((await s.call("POST", "/cancel")).status, 202);
    t.match(await s.jm.outcome, { state: JobState.CANCELED });
    t.same(s.taskManager.canceled.items, [{ attempt: 0 }]);
  },
);

t.test(
  "resource requirements: fixed bounds on the default scheduler, a PUT is a 409",
  async (t) => {
    const s = setup(t);
    const bounds = { lowerBound: 2, upperBound: 2 };
    t.same((await s.call("GET", "/resource-requirements")).body, {
      "0-sequence-source": { parallelism: bounds },
      "2-map": { parallelism: bounds },
    });
    const put = await s.call("PUT", "/resource-requirements", {
      "2-map": { parallelism: { lowerBound: 1, upperBound: 1 } },
    });
    t.equal(put.status, 409);
    t.match(put.body, { code: "CONFLICT", errors: [/default scheduler/] });
  },
);

t.test("resource requirements: an adaptive job takes new bounds, kept and declared", async (t) => {
  const job = twoByTwoJob({ scheduler: "adaptive" });
  const stored: unknown[] = [];
  const s = setup(t, {
    graph: job.graph(),
    options: {
      rebuild: (vertexParallelism) => job.graph({ vertexParallelism }),
      onResourceRequirements: async (r) => void stored.push(r),
    },
  });
  await running(s);
  t.match(await status(s), {
    scheduler: "adaptive",
    parallelismBounds: { lowerBound: 1, upperBound: 2 },
  });
  const fixed = { parallelism: { lowerBound: 2, upperBound: 2 } };
  const unknown = await s.call("PUT", "/resource-requirements", { nope: fixed });
  t.equal(unknown.status, 400);
  t.match(unknown.body, { errors: [/no vertex 'nope'/] });
  const put = await s.call("PUT", "/resource-requirements", { "2-map": fixed });
  t.equal(put.status, 200);
  t.same(put.body, {
    "0-sequence-source": { parallelism: { lowerBound: 1, upperBound: 2 } },
    "2-map": fixed,
  });
  t.same(stored, [put.body], "persisted before the answer");
  await s.rm.declared.waitFor((d) => d.length === 2, "declared again with the new bounds");
  t.match(
    await status(s),
    { state: JobState.RUNNING, rescales: 0 },
    "running within them: no rescale",
  );
});

t.test("suspended: no outcome, and control calls are refused", async (t) => {
  const s = setup(t);
  await running(s);
  s.jm.suspend();
  t.same((await s.call("GET", "/heartbeat")).body, { jobId: s.jobId, state: JobState.SUSPENDED });
  t.equal((await s.call("POST", "/cancel")).status, 409);
  t.equal((await s.call("POST", "/savepoints")).status, 409);
  t.same(
    s.taskManager.canceled.items,
    [],
    "its tasks are not canceled: the next leader takes them",
  );
  t.same(s.taskManager.freed.items, [], "nor its slots freed");
  const never = Symbol("pending");
  t.equal(await Promise.race([s.jm.outcome, Promise.resolve(never)]), never, "no outcome");
});

t.test("once its Dispatcher's term is over it does not act, but is still suspended", async (t) => {
  let leading = true;
  const s = setup(t, { options: { leading: () => leading } });
  await running(s);
  leading = false; // the lease lapsed; the step-down has not run yet (a process resumed)
  const failed = await s.taskFailed(0, "2-map", 1, "boom");
  t.equal(failed.status, 200, "the report is answered");
  t.same(
    s.taskManager.canceled.items,
    [],
    "no attempt is stopped: nothing goes to the TaskManager",
  );
  t.notMatch(await status(s), { state: JobState.RUNNING }, "the lifecycle took the report in");
  s.jm.suspend();
  t.match(await status(s), { state: JobState.SUSPENDED }, "the step-down still suspends it");
  t.same(s.taskManager.freed.items, [], "no slot freed");
  t.same(s.rm.cleared.items, [], "no requirement cleared");
});

t.test("a cancel during the restart delay ends the job at once", async (t) => {
  const graph = twoByTwo({
    restartStrategy: { type: "fixed-delay", attempts: 3, delayMs: 600_000 },
  });
  const s = setup(t, { graph });
  await running(s);
  await s.taskFailed(0, "2-map", 0, "boom");
  await inState(s, JobState.RESTARTING);
  t.same((await s.call("POST", "/cancel")).status, 202);
  t.match(await s.jm.outcome, { state: JobState.CANCELED, restarts: 0 }, "not after ten minutes");
});

t.test("a task canceled without being asked fails the attempt", async (t) => {
  const graph = twoByTwo({ restartStrategy: { type: "fixed-delay", attempts: 1, delayMs: 0 } });
  const s = setup(t, { graph });
  await running(s);
  await s.call("POST", "/tasks/state", {
    attempt: 0,
    vertexId: "0-sequence-source",
    subtask: 1,
    state: TaskState.CANCELED,
  });
  await running(s, 1);
  t.match(await status(s), { attempt: 1, restarts: 1 });
});

t.test("a stop whose savepoint fails tells its caller; the job runs on", async (t) => {
  const s = setup(t);
  await running(s);
  const stop = s.call("POST", "/stop", { savepoint: true });
  await s.taskManager.triggered.waitFor((x) => x.length === 1, "the savepoint's trigger");
  await s.call("POST", "/checkpoints/decline", {
    attempt: 0,
    vertexId: "0-sequence-source",
    subtask: 0,
    checkpointId: 1,
    reason: "no space left",
  });
  const failed = await stop;
  t.ok(failed.status >= 400, `the stop failed (${failed.status})`);
  t.match(failed.body, { errors: [/no space left/] });
  t.match(await status(s), { state: JobState.RUNNING });
  t.same(s.taskManager.canceled.items, [], "no task canceled");
});

t.test("adaptive: lowered bounds rescale through a checkpoint onto fewer slots", async (t) => {
  const job = twoByTwoJob({ scheduler: "adaptive" });
  const s = setup(t, {
    graph: job.graph(),
    options: { rebuild: (vertexParallelism) => job.graph({ vertexParallelism }) },
  });
  const first = await running(s);
  const one = { parallelism: { lowerBound: 1, upperBound: 1 } };
  const put = await s.call("PUT", "/resource-requirements", {
    "0-sequence-source": one,
    "2-map": one,
  });
  t.equal(put.status, 200);
  const [trigger] = await s.taskManager.triggered.waitFor((x) => x.length === 1, "its checkpoint");
  for (const d of first)
    await s.call("POST", "/checkpoints/ack", {
      attempt: 0,
      vertexId: d.vertexId,
      subtask: d.subtask,
      checkpointId: trigger!.checkpointId,
      handle: `h-${d.vertexId}-${d.subtask}`,
      bytes: 1,
    });
  await s.taskManager.canceled.waitFor((c) => c.length === 1, "the old attempt canceled");
  const second = await s.taskManager.deployed.waitFor(
    (d) => d.filter((x) => x.attempt === 1).length === 2,
    "attempt 1 at parallelism 1",
  );
  const redeployed = second.filter((d) => d.attempt === 1);
  t.same(
    redeployed.map((d) => [d.vertexId, d.subtask, d.vertexParallelism, d.restore]),
    [
      [
        "0-sequence-source",
        0,
        { "0-sequence-source": 1, "2-map": 1 },
        ["h-0-sequence-source-0", "h-0-sequence-source-1"],
      ],
      ["2-map", 0, { "0-sequence-source": 1, "2-map": 1 }, ["h-2-map-0", "h-2-map-1"]],
    ],
    "each vertex restores every old subtask's snapshot",
  );
  const [freed] = await s.taskManager.freed.waitFor((f) => f.length === 1, "the surplus slot back");
  t.equal(freed!.slotId, "tm-1_1");
  await s.report(1, TaskState.RUNNING);
  t.match(await status(s), { state: JobState.RUNNING, attempt: 1, rescales: 1, restarts: 0 });
});
