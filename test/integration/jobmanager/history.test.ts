/**
 * A job's history on the MiniCluster (the same blocks and protocols as a cluster): a job that
 * checkpoints, fails once, recovers from its latest checkpoint and finishes. Its checkpoint and
 * exception history are right while it runs, and after it ended from the archive its result
 * record keeps (what the Dispatcher answers a finished job's pages from).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { startMiniCluster } from "../../../components/cluster/mod.ts";
import { JobState, vertexHexId } from "../../../components/core/mod.ts";
import { bundleJob } from "../../../components/dataflow/internal_mod.ts";
import {
  checkpointConfigInfoSchema,
  checkpointingStatisticsSchema,
  checkpointStatisticsSchema,
  jobExceptionsSchema,
  taskCheckpointWithSubtasksSchema,
} from "../../../components/protocol/mod.ts";
import { until } from "../../support/poll.ts";

t.test(
  "checkpoints, a failure and its recovery: recorded while running, kept after the end",
  async (t) => {
    const mini = await startMiniCluster({ taskManagers: 1, slotsPerTaskManager: 2 });
    t.teardown(() => mini.stop());
    const { dispatcher } = mini;
    const marker = join(mkdtempSync(join(tmpdir(), "flotilla-history-")), "failed");
    const bytes = new Uint8Array(await bundleJob("test/support/jobs/checkpointed_fails_once.ts"));
    const { artifact } = await dispatcher.uploadArtifact(bytes);
    const jobId = await dispatcher.submit({ artifact, args: { marker } });
    const history = dispatcher.history;

    // Running again after the failure: restored from a checkpoint, and checkpointing on.
    const running = await until(
      async () => {
        const stats = await history.checkpoints(jobId);
        const restored = stats.latest.restored;
        const completed = stats.latest.completed;
        return restored && completed && completed.id > restored.id ? stats : undefined;
      },
      "a checkpoint completed after the restore",
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    t.ok(
      checkpointingStatisticsSchema.safeParse(running).success,
      "Flink's CheckpointingStatistics",
    );
    t.equal(running.counts.restored, 1, "one restore");
    t.equal(
      running.counts.total,
      running.counts.completed + running.counts.failed + running.counts.in_progress,
    );
    t.ok(running.history.length <= 10, "the history keeps web.checkpoints.history (10)");
    t.same(
      running.history.map((c) => c.id),
      [...running.history.map((c) => c.id)].sort((a, b) => b - a),
      "newest first",
    );
    t.ok(running.summary.end_to_end_duration.max >= running.summary.end_to_end_duration.min);
    t.ok(running.summary.state_size.max > 0, "snapshots have a size");
    const restoredId = running.latest.restored!.id;
    t.match(running.latest.restored, {
      is_savepoint: false,
      external_path: `checkpoints/${jobId}/${restoredId}`,
    });

    const completed = running.latest.completed!;
    const details = await history.checkpointDetails(jobId, completed.id);
    t.ok(checkpointStatisticsSchema.safeParse(details).success, "Flink's CheckpointStatistics");
    const tasks = Object.entries(details.tasks);
    t.ok(tasks.length >= 1, "per-vertex statistics");
    for (const [hex, task] of tasks) {
      t.match(hex, /^[0-9a-f]{32}$/, "keyed by the vertex's hex id");
      t.equal(task.num_acknowledged_subtasks, task.num_subtasks, "every subtask acknowledged");
    }
    const [hex] = tasks[0]!;
    const subtasks = await history.checkpointSubtasks(jobId, completed.id, hex);
    t.ok(taskCheckpointWithSubtasksSchema.safeParse(subtasks).success, "per-subtask details");
    t.match(subtasks.subtasks[0], { className: "completed", index: 0, status: "completed" });
    await t.rejects(history.checkpointDetails(jobId, 1_000_000), { code: "NOT_FOUND" });
    t.match(await history.checkpointConfig(jobId), {
      mode: "EXACTLY_ONCE",
      interval: 100,
      max_concurrent: 1,
    });

    const exceptions = await history.exceptions(jobId);
    t.ok(jobExceptionsSchema.safeParse(exceptions).success, "Flink's JobExceptionsInfoWithHistory");
    t.equal(exceptions.exceptionHistory.entries.length, 1, "one failure, one entry");
    const root = exceptions.exceptionHistory.entries[0]!;
    t.match(root.stacktrace, /planned failure at record 200/);
    t.match(root.taskName, /fails once.* \(1\/1\)$/, "the task it happened in");
    t.equal(root.taskManagerId, mini.taskManagers[0]!.tmId, "the TaskManager it ran on");
    t.ok(root.timestamp > 0 && root.timestamp === exceptions.timestamp);
    t.match(exceptions["root-exception"], /planned failure/);

    // The end: the result record keeps the archive, and the Dispatcher answers from it.
    const result = await until(
      async () => (await dispatcher.stores.results.get(jobId)) ?? undefined,
      "the job's result",
      { timeoutMs: 60_000, intervalMs: 50 },
    );
    t.equal(result.state, JobState.FINISHED);
    const archive = result.history!;
    t.ok(archive, "the result record keeps the history");
    t.same(archive.trimmed, [], "a small job's history fits whole");
    t.ok(archive.timestamps.FINISHED >= archive.timestamps.RESTARTING);
    t.ok(archive.timestamps.RESTARTING >= archive.timestamps.FAILING);
    t.ok(archive.timestamps.FAILING > 0 && archive.timestamps.CREATED > 0);
    t.ok(
      archive.checkpoints.counts.completed > running.counts.completed,
      "the final checkpoint too",
    );
    t.equal(archive.exceptions.exceptionHistory.entries.length, 1);
    const vertex = archive.vertices.find((v) => vertexHexId(v.id) === hex);
    t.ok(vertex && vertex["end-time"] >= vertex["start-time"] && vertex["start-time"] > 0);
    t.ok(
      archive.vertices.every((v) =>
        v.subtasks.every((s) => s.state === "FINISHED" && s["end-time"] > 0),
      ),
    );

    // After the end the pages answer as the job ended (from the archive once its JobManager retired).
    t.same(await history.checkpoints(jobId), archive.checkpoints);
    t.same(await history.exceptions(jobId), archive.exceptions);
    t.ok(checkpointConfigInfoSchema.safeParse(await history.checkpointConfig(jobId)).success);
    const last = archive.checkpoints.latest.completed!;
    t.same((await history.checkpointDetails(jobId, last.id)).id, last.id);
    t.same(
      (await history.checkpointSubtasks(jobId, last.id, hex)).num_subtasks,
      vertex!.parallelism,
    );
  },
);
