/**
 * The TaskManager's app without a socket (Hono's `app.request`): every route of its contract
 * (components/protocol/taskmanager.ts), the happy path and bad input, and it keeps serving after
 * each refusal.
 */
import t from "tap";
import { ErrorCode, TaskState } from "../../../components/core/mod.ts";
import { until } from "../../support/poll.ts";
import { ANY, alloc, JM, JOB, TM, taskManagerFor } from "./fixtures.ts";

const SLOT = `${TM}_0`;
const OTHER_JOB = "fedcba9876543210fedcba9876543210";
const allocation = (allocationId = "alloc-1", jobId = JOB) => ({
  jobId,
  allocationId,
  jmSubject: JM,
  profile: ANY,
});

t.test("GET /healthz and GET /slots: who it is and its slot table", async (t) => {
  const { request } = await taskManagerFor(t);
  t.match(await request("GET", "/healthz"), {
    status: 200,
    body: { ok: true, tmId: TM, registered: false },
  });
  t.match(await request("GET", "/slots"), {
    status: 200,
    body: [
      { slotId: SLOT, index: 0, state: "free", profile: ANY },
      { slotId: `${TM}_1`, index: 1, state: "free" },
    ],
  });
});

t.test("the ResourceManager's routes are fenced by its token", async (t) => {
  const { request, tm, jm } = await taskManagerFor(t);
  t.match(await request("GET", "/heartbeat"), {
    status: 400,
    body: { code: ErrorCode.BAD_REQUEST, errors: [/missing flotilla-fencing-token header/] },
  });
  t.match(await request("GET", "/heartbeat", { token: 3 }), {
    status: 200,
    body: { tmId: TM, slots: [{ slotId: SLOT, state: "free" }, {}] },
  });
  t.match(await request("GET", "/heartbeat", { token: 2 }), {
    status: 409,
    body: {
      code: ErrorCode.STALE_LEADER,
      errors: [/token 2 .* older than the current leader's 3/],
    },
  });
  t.match(
    await request("POST", `/slots/${SLOT}/allocate`, { json: allocation(), token: 2 }),
    { status: 409, body: { code: ErrorCode.STALE_LEADER } },
    "a stale RM cannot allocate either",
  );
  t.match(await request("POST", `/slots/${SLOT}/allocate`, { json: allocation() }), {
    status: 400,
    body: { code: ErrorCode.BAD_REQUEST, errors: [/missing flotilla-fencing-token/] },
  });
  t.equal(tm.slots()[0]?.state, "free", "nothing was allocated by the refused calls");

  t.match(await request("POST", `/slots/${SLOT}/allocate`, { json: allocation(), token: 3 }), {
    status: 200,
    body: { slotId: SLOT, allocationId: "alloc-1" },
  });
  await jm.offers.waitFor((o) => o.length === 1, "the slot offered to the JobManager");
  t.match(jm.offers.items[0], {
    tmId: TM,
    tmSubject: tm.subject,
    slots: [{ slotId: SLOT, allocationId: "alloc-1", profile: ANY }],
  });
  await until(() => tm.slots()[0]?.state === "active", "the offered slot active");
  t.match(
    await request("POST", `/slots/${SLOT}/allocate`, { json: allocation(), token: 3 }),
    { status: 200, body: { slotId: SLOT, allocationId: "alloc-1" } },
    "a retried allocation is answered the same",
  );
  t.equal(jm.offers.items.length, 1, "and offers nothing again");
  t.match(
    await request("POST", `/slots/${SLOT}/allocate`, { json: allocation("alloc-2"), token: 4 }),
    { status: 409, body: { code: ErrorCode.CONFLICT, errors: [/is active for job .* not free/] } },
    "a slot held by another allocation",
  );
  t.match(await request("POST", `/slots/${TM}_9/allocate`, { json: allocation(), token: 4 }), {
    status: 404,
    body: { code: ErrorCode.NOT_FOUND, errors: [/no slot tm-u_9 .*its slots: tm-u_0, tm-u_1/] },
  });
  t.match(await request("GET", "/heartbeat", { token: 3 }), { status: 409 }, "4 is current now");
});

t.test("a JobManager deploys, checkpoints, cancels and gives the slot back", async (t) => {
  const { request, tm, jm, descriptor } = await taskManagerFor(t);
  await request("POST", `/slots/${SLOT}/allocate`, { json: allocation(), token: 1 });
  await until(() => tm.slots()[0]?.state === "active", "the slot active");

  const key = `${JOB}/0/${descriptor().vertexId}/0`;
  t.match(await request("POST", "/tasks", { json: descriptor() }), {
    status: 202,
    body: { deployed: key },
  });
  await jm.states.waitFor((s) => s.some((r) => r.state === TaskState.RUNNING), "the task running");
  t.match(
    await request("POST", "/tasks", { json: descriptor() }),
    { status: 202, body: { deployed: key } },
    "a retried deployment is answered the same",
  );
  t.equal(tm.runningTasks().length, 1, "and deploys nothing twice");

  t.match(await request("POST", `/jobs/${JOB}/checkpoints/1/trigger`, { json: { attempt: 0 } }), {
    status: 200,
    body: { triggered: 1 },
  });
  await jm.acks.waitFor(
    (a) => a.some((ack) => ack.checkpointId === 1),
    "checkpoint 1 acknowledged",
  );
  t.match(jm.acks.items[0], { attempt: 0, subtask: 0, checkpointId: 1, handle: /./ });
  t.match(
    await request("POST", `/jobs/${JOB}/checkpoints/1/trigger`, { json: { attempt: 7 } }),
    { status: 200, body: { triggered: 0 } },
    "a trigger for another attempt reaches no source",
  );
  t.match(await request("POST", `/jobs/${JOB}/checkpoints/1/complete`), {
    status: 200,
    body: { notified: 1 },
  });

  t.match(await request("POST", `/jobs/${JOB}/cancel`, { json: { attempt: 0 } }), {
    status: 200,
    body: { canceled: 1 },
  });
  await jm.states.waitFor(
    (s) => s.some((r) => r.state === TaskState.CANCELED),
    "the task canceled",
  );

  t.match(await request("POST", `/slots/${SLOT}/free`, { json: { allocationId: "alloc-9" } }), {
    status: 200,
    body: { freed: false },
  });
  t.match(await request("POST", `/slots/${SLOT}/free`, { json: { allocationId: "alloc-1" } }), {
    status: 200,
    body: { freed: true },
  });
  t.equal(tm.slots()[0]?.state, "free");
  await until(() => tm.runningTasks().length === 0, "the canceled task gone");
  t.match(
    await request("POST", "/tasks", { json: descriptor({ attempt: 1 }) }),
    {
      status: 409,
      body: { code: ErrorCode.CONFLICT, errors: [/allocation alloc-1 of job .* holds no slot/] },
    },
    "no deployment on a freed slot",
  );
});

t.test(
  "bad input gets a typed 4xx naming what was wrong; the TaskManager keeps serving",
  async (t) => {
    const { request, tm, descriptor } = await taskManagerFor(t);
    await request("POST", `/slots/${SLOT}/allocate`, { json: allocation(), token: 1 });
    const { artifact: _artifact, ...noArtifact } = descriptor();
    const cases: [
      string,
      string,
      string,
      { json?: unknown; token?: number },
      number,
      string,
      RegExp,
    ][] = [
      [
        "allocate without a jobId",
        "POST",
        `/slots/${SLOT}/allocate`,
        { json: { ...allocation(), jobId: undefined }, token: 1 },
        400,
        ErrorCode.BAD_REQUEST,
        /'jobId'/,
      ],
      [
        "allocate with a bad jmSubject",
        "POST",
        `/slots/${SLOT}/allocate`,
        { json: { ...allocation(), jmSubject: "a b" }, token: 1 },
        400,
        ErrorCode.BAD_REQUEST,
        /'jmSubject'/,
      ],
      [
        "allocate reporting to another job's JobManager",
        "POST",
        `/slots/${SLOT}/allocate`,
        { json: { ...allocation(), jmSubject: "t.jobmanager.elsewhere" }, token: 1 },
        400,
        ErrorCode.INVALID_ARGUMENT,
        /is not the JobManager of job/,
      ],
      [
        "allocate with a bad slot id",
        "POST",
        "/slots/no%20slot/allocate",
        { json: allocation(), token: 1 },
        400,
        ErrorCode.BAD_REQUEST,
        /'slotId'/,
      ],
      [
        "allocate with an unknown field",
        "POST",
        `/slots/${SLOT}/allocate`,
        { json: { ...allocation(), extra: 1 }, token: 1 },
        400,
        ErrorCode.BAD_REQUEST,
        /extra/,
      ],
      [
        "deploy without an artifact",
        "POST",
        "/tasks",
        { json: noArtifact },
        400,
        ErrorCode.BAD_REQUEST,
        /'artifact'/,
      ],
      [
        "deploy with a negative subtask",
        "POST",
        "/tasks",
        { json: descriptor({ subtask: -1 }) },
        400,
        ErrorCode.BAD_REQUEST,
        /'subtask'/,
      ],
      [
        "deploy for another job",
        "POST",
        "/tasks",
        { json: descriptor({ jobId: OTHER_JOB as never }) },
        409,
        ErrorCode.CONFLICT,
        /allocation alloc-1 of job fedcba/,
      ],
      [
        "deploy reporting to another subject than the job's JobManager",
        "POST",
        "/tasks",
        { json: descriptor({ jmSubject: "t.jobmanager.elsewhere" }) },
        400,
        ErrorCode.INVALID_ARGUMENT,
        /is not the JobManager of job/,
      ],
      [
        "deploy an artifact not in the store",
        "POST",
        "/tasks",
        { json: descriptor({ artifact: "0".repeat(64) }) },
        404,
        ErrorCode.NOT_FOUND,
        /artifact 0{64} of job .* not in the blob store/,
      ],
      [
        "deploy a vertex the job lacks",
        "POST",
        "/tasks",
        { json: descriptor({ vertexId: "9-nothing" }) },
        404,
        ErrorCode.NOT_FOUND,
        /no vertex '9-nothing'/,
      ],
      [
        "free without an allocationId",
        "POST",
        `/slots/${SLOT}/free`,
        { json: {} },
        400,
        ErrorCode.BAD_REQUEST,
        /'allocationId'/,
      ],
      [
        "free an unknown slot",
        "POST",
        `/slots/${TM}_5/free`,
        { json: { allocationId: "alloc-1" } },
        404,
        ErrorCode.NOT_FOUND,
        /no slot tm-u_5/,
      ],
      [
        "cancel a bad job id",
        "POST",
        "/jobs/not-a-job/cancel",
        { json: { attempt: 0 } },
        400,
        ErrorCode.BAD_REQUEST,
        /'jobId'/,
      ],
      [
        "cancel a negative attempt",
        "POST",
        `/jobs/${JOB}/cancel`,
        { json: { attempt: -1 } },
        400,
        ErrorCode.BAD_REQUEST,
        /'attempt'/,
      ],
      [
        "cancel an unknown job",
        "POST",
        `/jobs/${OTHER_JOB}/cancel`,
        { json: { attempt: 0 } },
        404,
        ErrorCode.JOB_NOT_FOUND,
        /no slot and runs no task of job fedcba/,
      ],
      [
        "trigger checkpoint 0",
        "POST",
        `/jobs/${JOB}/checkpoints/0/trigger`,
        { json: { attempt: 0 } },
        400,
        ErrorCode.BAD_REQUEST,
        /'checkpointId'/,
      ],
      [
        "trigger without an attempt",
        "POST",
        `/jobs/${JOB}/checkpoints/1/trigger`,
        { json: { final: true } },
        400,
        ErrorCode.BAD_REQUEST,
        /'attempt'/,
      ],
      [
        "trigger for an unknown job",
        "POST",
        `/jobs/${OTHER_JOB}/checkpoints/1/trigger`,
        { json: { attempt: 0 } },
        404,
        ErrorCode.JOB_NOT_FOUND,
        /job fedcba/,
      ],
      [
        "complete checkpoint x",
        "POST",
        `/jobs/${JOB}/checkpoints/x/complete`,
        {},
        400,
        ErrorCode.BAD_REQUEST,
        /'checkpointId'/,
      ],
      [
        "complete for an unknown job",
        "POST",
        `/jobs/${OTHER_JOB}/checkpoints/1/complete`,
        {},
        404,
        ErrorCode.JOB_NOT_FOUND,
        /job fedcba/,
      ],
      [
        "an unknown route",
        "POST",
        "/slots",
        {},
        404,
        ErrorCode.NOT_FOUND,
        /no route for POST \/slots/,
      ],
    ];
    for (const [what, method, path, init, status, code, message] of cases) {
      t.match(
        await request(method, path, init),
        { status, body: { code, errors: [message] } },
        what,
      );
      t.match(await request("GET", "/healthz"), { status: 200 }, `still serving after: ${what}`);
    }
    const empty = await tm.app.request("/tasks", {
      method: "POST",
      headers: { "content-type": "application/json" },
    });
    t.match(
      { status: empty.status, body: await empty.json() },
      { status: 400, body: { code: ErrorCode.BAD_REQUEST, errors: [/request body is empty/] } },
      "an empty body",
    );
    t.equal(tm.runningTasks().length, 0, "nothing was deployed by bad input");
    t.match(tm.slots()[0], { state: "active", allocationId: alloc("alloc-1") }, "nor freed");
  },
);
