/**
 * One JobManager's history: state times and failures taken from the lifecycle's actions, the
 * checkpoint config it reports, and the archive a result record keeps, bounded whatever the job's
 * size (32,768 subtasks: per-subtask details are trimmed first, the essentials stay).
 */
import t from "tap";
import {
  ErrorCode,
  FlotillaError,
  JobState,
  type TaskManagerId,
  TaskState,
} from "../../../components/core/mod.ts";
import { JobHistory } from "../../../components/jobmanager/mod.ts";
import {
  checkpointConfigInfoSchema,
  JOB_HISTORY_ARCHIVE_MAX_BYTES,
  type VertexDetails,
} from "../../../components/protocol/mod.ts";

const checkpointing = { intervalMs: 1000, timeoutMs: 60_000, tolerableFailures: 3 };
const jsonBytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)).byteLength;

/** `count` vertices of `parallelism` subtasks, all finished. */
function vertices(count: number, parallelism: number): VertexDetails[] {
  return Array.from({ length: count }, (_, n) => ({
    id: `${n}-map`,
    name: `map ${n}`,
    parallelism,
    tasks: { FINISHED: parallelism },
    recordsIn: 0,
    recordsOut: 0,
    "start-time": 1,
    "end-time": 2,
    subtasks: Array.from({ length: parallelism }, (_, i) => ({
      subtask: i,
      state: TaskState.FINISHED,
      taskmanager: `tm-${i % 64}` as TaskManagerId,
      recordsIn: i,
      recordsOut: i,
      attempt: 0,
      host: `tm-${i % 64}`,
      "taskmanager-id": `tm-${i % 64}` as TaskManagerId,
      "start-time": 1,
      "end-time": 2,
    })),
  }));
}

/** `checkpoints` completed checkpoints of every subtask of `of`. */
function checkpointed(history: JobHistory, of: VertexDetails[], checkpoints: number) {
  const stats = history.checkpoints;
  const ids = of.map((v) => ({ id: v.id, parallelism: v.parallelism }));
  for (let id = 1; id <= checkpoints; id++) {
    stats.triggered(id, id * 1000, { savepoint: false, vertices: ids });
    for (const v of of)
      for (let i = 0; i < v.parallelism; i++) stats.acknowledged(id, v.id, i, id * 1000 + 5, 64);
    stats.completed(id, id * 1000 + 9, `checkpoints/job/${id}`);
  }
}

t.test("state times and failures from the lifecycle's actions", async (t) => {
  const history = new JobHistory({ checkpointing });
  const lifecycle = { attempt: 0, attemptFailure: undefined as FlotillaError | undefined };
  history.observe({ kind: "state", from: JobState.CREATED, to: JobState.RUNNING }, lifecycle);
  // A failure no task reported (checkpoints expiring): the lifecycle's is the root cause.
  lifecycle.attemptFailure = new FlotillaError(ErrorCode.TIMEOUT, "3 checkpoints expired");
  history.observe(
    { kind: "state", from: JobState.RUNNING, to: JobState.FAILING, why: "3 checkpoints expired" },
    lifecycle,
  );
  // A task's failure, recorded with its site first, is not recorded again by its state change.
  lifecycle.attempt = 1;
  const task = new FlotillaError(ErrorCode.INTERNAL, "0-map#0: boom");
  history.failed(1, task, { taskName: "map (1/1)", taskManagerId: "tm-1" });
  lifecycle.attemptFailure = task;
  history.observe({ kind: "state", from: JobState.RUNNING, to: JobState.FAILING }, lifecycle);
  // The job's end names the failure again (with the restart strategy's reason): no new entry.
  const outcome = {
    state: JobState.FAILED,
    error: new FlotillaError(ErrorCode.INTERNAL, "0-map#0: boom (restarts used up)"),
    restarts: 1,
    rescales: 0,
    checkpoints: 0,
  };
  history.observe({ kind: "end", outcome }, lifecycle);
  history.observe({ kind: "state", from: JobState.FAILING, to: JobState.FAILED }, lifecycle);

  const entries = history.exceptions.view().exceptionHistory.entries;
  t.match(
    entries.map((e) => [e.exceptionName, e.taskName]),
    [
      ["INTERNAL", "map (1/1)"],
      ["TIMEOUT", null],
    ],
  );
  const times = history.timestamps();
  t.same(Object.keys(times).sort(), Object.values(JobState).sort(), "every state named");
  t.ok(times.CREATED > 0 && times.RUNNING >= times.CREATED && times.FAILED >= times.FAILING);
  t.equal(times.CANCELED, 0, "never entered");
});

t.test("a job that fails before any attempt (no slots): its end is the root cause", async (t) => {
  const history = new JobHistory({ checkpointing: null });
  const outcome = {
    state: JobState.FAILED,
    error: new FlotillaError(ErrorCode.NO_RESOURCES, "slots not available within 300000 ms"),
    restarts: 0,
    rescales: 0,
    checkpoints: 0,
  };
  history.observe({ kind: "end", outcome }, { attempt: 0, attemptFailure: undefined });
  t.match(history.exceptions.view(), {
    "root-exception": "NO_RESOURCES: slots not available within 300000 ms",
  });
});

t.test("the checkpoint config: Flink's, or 404 without checkpointing", async (t) => {
  const config = new JobHistory({ checkpointing }).checkpointConfig();
  t.ok(checkpointConfigInfoSchema.safeParse(config).success);
  t.match(config, { mode: "EXACTLY_ONCE", interval: 1000, timeout: 60_000, max_concurrent: 1 });
  t.match(config, { tolerable_failed_checkpoints: 3, checkpoints_after_tasks_finish: true });
  t.throws(() => new JobHistory({ checkpointing: null }).checkpointConfig(), {
    code: ErrorCode.NOT_FOUND,
  });
});

t.test("a small job's archive keeps everything", async (t) => {
  const history = new JobHistory({ checkpointing });
  const of = vertices(2, 4);
  checkpointed(history, of, 12);
  history.failed(0, new FlotillaError(ErrorCode.INTERNAL, "boom"));
  const archive = history.archive(of);
  t.same(archive.trimmed, []);
  t.equal(archive.checkpoints.history.length, 10, "the last web.checkpoints.history");
  t.same(
    archive.details.map((d) => d.id),
    [12, 11, 10, 9, 8, 7, 6, 5, 4, 3],
  );
  t.same(Object.keys(archive.subtasks).sort(), archive.details.map((d) => String(d.id)).sort());
  t.equal(archive.vertices[0]?.subtasks.length, 4);
  t.equal(archive.exceptions.exceptionHistory.entries.length, 1);
  t.ok(archive.config);
});

t.test(
  "32,768 subtasks: the archive stays within its bound, per-subtask details go first",
  async (t) => {
    const history = new JobHistory({ checkpointing });
    const of = vertices(2, 16_384);
    checkpointed(history, of, 10);
    for (let attempt = 0; attempt < 16; attempt++)
      for (let i = 0; i < 16; i++)
        history.failed(
          attempt,
          new FlotillaError(
            ErrorCode.INTERNAL,
            `attempt ${attempt}, task ${i}: ${"x".repeat(8000)}`,
          ),
          { taskName: `map 0 (${i + 1}/16384)`, taskManagerId: "tm-1" },
        );
    const archive = history.archive(of);
    const bytes = jsonBytes(archive);
    t.ok(bytes <= JOB_HISTORY_ARCHIVE_MAX_BYTES, `${bytes} bytes`);
    t.match(archive.trimmed.at(-1), /^per-subtask details of checkpoints 10, 9/);
    t.ok(archive.trimmed.some((w) => /the vertices' 32768 subtasks/.test(w)));
    t.same(archive.subtasks, {});
    t.ok(archive.vertices.every((v) => v.subtasks.length === 0 && v.parallelism === 16_384));
    t.equal(archive.checkpoints.counts.completed, 10, "counts and latest stay");
    t.equal(archive.checkpoints.latest.completed?.num_acknowledged_subtasks, 32_768);
    t.equal(archive.checkpoints.history.length, 10);
    t.equal(archive.exceptions.exceptionHistory.entries.length, 16, "every root cause stays");
    t.ok(archive.exceptions.exceptionHistory.entries.every((e) => e.stacktrace.length <= 1024));
  },
);

t.test("even thousands of vertices keep the essentials within the bound", async (t) => {
  const history = new JobHistory({ checkpointing });
  const of = vertices(4096, 1);
  checkpointed(history, of, 10);
  const archive = history.archive(of);
  t.ok(jsonBytes(archive) <= JOB_HISTORY_ARCHIVE_MAX_BYTES);
  t.equal(archive.checkpoints.counts.completed, 10);
  t.ok(archive.checkpoints.latest.completed);
  t.ok(archive.trimmed.length > 0);
});
