/**
 * An ended job's history as the Dispatcher answers it from the archive its result record keeps:
 * checkpoints, config, details (falling back to the history entry when trimmed), per-subtask
 * details by hex or flotilla vertex id, exceptions with maxExceptions; 404s that say why; a
 * result written without an archive still answers its root cause. The jobstore keeps only the
 * newest archives in memory.
 */
import t from "tap";
import {
  ErrorCode,
  FlotillaError,
  JobState,
  silentLogger,
  systemClock,
  vertexHexId,
} from "../../../components/core/mod.ts";
import { EndedJobs } from "../../../components/dispatcher/ended_jobs.ts";
import { jobHistoryAnswers, keptArchives } from "../../../components/dispatcher/job_history.ts";
import type { JobResultRecord } from "../../../components/dispatcher/types.ts";
import { JobHistory } from "../../../components/jobmanager/mod.ts";

const jobId = "0123456789abcdef0123456789abcdef";

function endedJob(history?: JobResultRecord["history"]): JobResultRecord {
  return {
    jobId,
    name: "ended",
    state: JobState.FAILED,
    error: { code: "INTERNAL", message: "boom" },
    restarts: 2,
    checkpoints: 3,
    submittedAt: 1,
    finishedAt: 5000,
    ...(history ? { history } : {}),
  };
}

function answersFor(result: JobResultRecord | undefined) {
  return jobHistoryAnswers({
    running: () => undefined,
    archive: async (id) =>
      id === jobId && result
        ? { result, ...(result.history ? { history: result.history } : {}) }
        : undefined,
    notRunning: async (id) => new FlotillaError(ErrorCode.JOB_NOT_FOUND, `no job ${id}`),
  });
}

function archived() {
  const history = new JobHistory({
    checkpointing: { intervalMs: 100, timeoutMs: 1000, tolerableFailures: 3 },
  });
  const vertices = [{ id: "0-source", parallelism: 2 }];
  for (let id = 1; id <= 3; id++) {
    history.checkpoints.triggered(id, id * 100, { savepoint: false, vertices });
    for (let i = 0; i < 2; i++)
      history.checkpoints.acknowledged(id, "0-source", i, id * 100 + 1, 8);
    history.checkpoints.completed(id, id * 100 + 2, `checkpoints/${jobId}/${id}`);
  }
  for (let attempt = 0; attempt < 3; attempt++)
    history.failed(attempt, new FlotillaError(ErrorCode.INTERNAL, `failure ${attempt}`));
  return history.archive([]);
}

t.test("an ended job's pages answer from its archive", async (t) => {
  const archive = archived();
  const answers = answersFor(endedJob(archive));
  t.same(await answers.checkpoints(jobId), archive.checkpoints);
  t.match(await answers.checkpointConfig(jobId), { interval: 100 });
  t.match(await answers.checkpointDetails(jobId, 2), {
    id: 2,
    tasks: { [vertexHexId("0-source")]: { num_acknowledged_subtasks: 2 } },
  });
  const byHex = await answers.checkpointSubtasks(jobId, 3, vertexHexId("0-source"));
  t.same(await answers.checkpointSubtasks(jobId, 3, "0-source"), byHex, "by flotilla id too");
  t.equal(byHex.subtasks.length, 2);
  await t.rejects(answers.checkpointDetails(jobId, 9), {
    code: ErrorCode.NOT_FOUND,
    message: /checkpoint 9 of ended job .* is not kept/,
  });
  const two = await answers.exceptions(jobId, { maxExceptions: 2 });
  t.same(
    two.exceptionHistory.entries.map((e) => e.stacktrace),
    ["INTERNAL: failure 2", "INTERNAL: failure 1"],
  );
  t.ok(two.exceptionHistory.truncated);
  t.equal((await answers.exceptions(jobId)).exceptionHistory.entries.length, 3);
});

t.test(
  "trimmed details: the history entry answers; trimmed subtasks: a 404 naming why",
  async (t) => {
    const archive = {
      ...archived(),
      details: [],
      subtasks: {},
      trimmed: ["per-subtask details of checkpoints 3, 2, 1"],
    };
    const answers = answersFor(endedJob(archive));
    t.match(await answers.checkpointDetails(jobId, 2), { id: 2, tasks: {} });
    await t.rejects(answers.checkpointSubtasks(jobId, 2, "0-source"), {
      code: ErrorCode.NOT_FOUND,
      message: /without: per-subtask details of checkpoints 3, 2, 1/,
    });
  },
);

t.test("a result without an archive; an unknown job", async (t) => {
  const answers = answersFor(endedJob());
  t.match(await answers.exceptions(jobId), {
    "root-exception": "INTERNAL: boom",
    timestamp: 5000,
    exceptionHistory: { entries: [{ exceptionName: "INTERNAL" }] },
  });
  t.equal((await answers.checkpoints(jobId)).counts.total, 0);
  await t.rejects(answers.checkpointConfig(jobId), { code: ErrorCode.NOT_FOUND });
  await t.rejects(answersFor(undefined).checkpoints(jobId), { code: ErrorCode.JOB_NOT_FOUND });
});

t.test(
  "the jobstore keeps the newest jobs' archives in memory, older ones from the store",
  async (t) => {
    const ended = new EndedJobs(
      { retainedResults: 2, expirationMs: Number.MAX_SAFE_INTEGER },
      { clock: systemClock, forget: async () => {}, log: silentLogger },
    );
    const archive = archived();
    const ids = ["a", "b", "c"].map((c) => c.repeat(32));
    const stored = new Map<string, JobResultRecord>();
    for (const id of ids) {
      const result = { ...endedJob(archive), jobId: id };
      stored.set(id, result);
      ended.add(result, { results: {} });
    }
    t.ok(
      ids.every((id) => ended.get(id) && ended.get(id)!.history === undefined),
      "the kept results go without their archives",
    );
    t.equal(ended.archive(ids[0]!), undefined, "past the newest 2");
    t.ok(ended.archive(ids[2]!));
    let reads = 0;
    const find = keptArchives(ended, async (id) => ended.get(id), {
      get: async (id) => {
        reads++;
        return stored.get(id);
      },
    });
    t.same((await find(ids[0]!))?.history, archive, "read from the result store");
    t.same((await find(ids[2]!))?.history, archive);
    t.equal(reads, 1, "the newest from memory");
    t.equal(await find("d".repeat(32)), undefined);
  },
);
