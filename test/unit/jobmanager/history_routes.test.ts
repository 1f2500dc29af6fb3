/**
 * The JobManager's history routes, socket-free over its app with a fake TaskManager and RM: a
 * savepoint's statistics by vertex and subtask, a task's failure in the exception history with its
 * task and TaskManager, the 404s and the bad input (typed 400s naming what was wrong).
 */
import t from "tap";
import { JobState, TaskState, vertexHexId } from "../../../components/core/mod.ts";
import {
  checkpointingStatisticsSchema,
  jobExceptionsSchema,
} from "../../../components/protocol/mod.ts";
import { setup, twoByTwo } from "./fixtures.ts";

async function running(s: ReturnType<typeof setup>) {
  await s.jm.start();
  await s.offer(2);
  const deployed = await s.taskManager.deployed.waitFor((d) => d.length === 4, "four subtasks");
  await s.report(0, TaskState.RUNNING);
  return deployed;
}

t.test("a savepoint's statistics, per vertex and per subtask, over the routes", async (t) => {
  const s = setup(t);
  const tasks = await running(s);
  const answer = s.call("POST", "/savepoints");
  await s.taskManager.triggered.waitFor((x) => x.length === 1, "a trigger");
  for (const d of tasks)
    await s.call("POST", "/checkpoints/ack", {
      attempt: 0,
      vertexId: d.vertexId,
      subtask: d.subtask,
      checkpointId: 1,
      handle: `h-${d.vertexId}-${d.subtask}`,
      bytes: 10 + d.subtask,
    });
  t.equal((await answer).status, 201);

  const stats = await s.call("GET", "/checkpoints");
  t.equal(stats.status, 200);
  const body = checkpointingStatisticsSchema.parse(stats.body);
  t.match(body.latest.savepoint, {
    id: 1,
    is_savepoint: true,
    external_path: `savepoints/${s.jobId}/1`,
    state_size: 42,
    num_acknowledged_subtasks: 4,
  });
  t.equal(body.latest.completed, null, "a savepoint is not the latest checkpoint");

  const [vertex] = s.jm.graph.vertices;
  const hex = vertexHexId(vertex!.id);
  const details = await s.call("GET", "/checkpoints/details/1");
  t.match(details.body, { id: 1, tasks: { [hex]: { num_subtasks: 2, state_size: 21 } } });
  const subtasks = await s.call("GET", `/checkpoints/details/1/subtasks/${hex}`);
  t.match(subtasks.body, {
    num_acknowledged_subtasks: 2,
    subtasks: [
      { index: 0, status: "completed", state_size: 10 },
      { index: 1, status: "completed", state_size: 11 },
    ],
  });
  t.match(await s.call("GET", "/checkpoints/details/2"), {
    status: 404,
    body: { code: "NOT_FOUND", errors: [/checkpoint 2 is not in job .* history \(.*: 1\)/] },
  });
  t.match(await s.call("GET", "/checkpoints/details/1/subtasks/nope"), { status: 404 });
  t.match(await s.call("GET", "/checkpoints/details/x"), {
    status: 400,
    body: { errors: [/checkpointId/] },
  });
  t.match(await s.call("GET", "/checkpoints/config"), {
    status: 404,
    body: { errors: [/checkpointing is not enabled/] },
  });
});

t.test("a task's failure: the exception history names the task and its TaskManager", async (t) => {
  const s = setup(t, { graph: twoByTwo({ restartStrategy: { type: "none" } }) });
  await running(s);
  await s.taskFailed(0, "2-map", 1, "the map threw");
  const outcome = await s.jm.outcome;
  t.equal(outcome.state, JobState.FAILED);
  const res = await s.call("GET", "/exceptions?maxExceptions=5");
  t.equal(res.status, 200);
  const body = jobExceptionsSchema.parse(res.body);
  t.equal(body.exceptionHistory.entries.length, 1, "the end is no second failure");
  t.match(body.exceptionHistory.entries[0], {
    exceptionName: "INTERNAL",
    stacktrace: /2-map#1: the map threw/,
    taskName: /\(2\/2\)$/,
    taskManagerId: "tm-1",
  });
  t.match(await s.call("GET", "/exceptions?maxExceptions=0"), {
    status: 400,
    body: { errors: [/maxExceptions/] },
  });
  const archive = await s.call("GET", "/archive");
  t.match(archive.body, {
    timestamps: { FAILED: Number },
    exceptions: { exceptionHistory: { entries: [{ taskManagerId: "tm-1" }] } },
    trimmed: [],
  });
});
