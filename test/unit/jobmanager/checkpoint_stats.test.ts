/**
 * The JobManager's checkpoint statistics: what each checkpoint records (trigger, acks with time
 * and size, completion or failure with cause, savepoints, restores), Flink's views of it, and its
 * bounds (the last `history` checkpoints whole, per-subtask details only for those). Also the
 * real coordinator telling it, over a memory snapshot store.
 */
import t from "tap";
import { silentLogger, vertexHexId } from "../../../components/core/mod.ts";
import {
  CheckpointCoordinator,
  memorySnapshotStore,
} from "../../../components/dataflow/internal_mod.ts";
import { defineJob, sinks, sources } from "../../../components/dataflow/mod.ts";
import { CheckpointStats } from "../../../components/jobmanager/mod.ts";
import {
  checkpointingStatisticsSchema,
  checkpointStatisticsSchema,
  taskCheckpointWithSubtasksSchema,
} from "../../../components/protocol/mod.ts";

const vertices = [
  { id: "0-source", parallelism: 2 },
  { id: "1-sink", parallelism: 1 },
];

/** Checkpoint `id` triggered at `at`, every subtask acking 10 ms apart with `bytes` each. */
function complete(stats: CheckpointStats, id: number, at: number, bytes = 100) {
  stats.triggered(id, at, { savepoint: false, vertices });
  stats.acknowledged(id, "0-source", 0, at + 10, bytes);
  stats.acknowledged(id, "0-source", 1, at + 20, bytes);
  stats.acknowledged(id, "1-sink", 0, at + 30, bytes);
  stats.completed(id, at + 35, `checkpoints/job/${id}`);
}

t.test("a completed checkpoint: sizes, times, per vertex and per subtask", async (t) => {
  const stats = new CheckpointStats();
  complete(stats, 1, 1000);
  const view = stats.statistics();
  t.ok(checkpointingStatisticsSchema.safeParse(view).success, "Flink's shape");
  t.same(view.counts, { restored: 0, total: 1, in_progress: 0, completed: 1, failed: 0 });
  t.match(view.latest.completed, {
    className: "completed",
    id: 1,
    status: "COMPLETED",
    trigger_timestamp: 1000,
    latest_ack_timestamp: 1030,
    end_to_end_duration: 35,
    state_size: 300,
    checkpointed_size: 300,
    num_subtasks: 3,
    num_acknowledged_subtasks: 3,
    external_path: "checkpoints/job/1",
    discarded: false,
    checkpoint_type: "CHECKPOINT",
    tasks: {},
  });
  t.equal(view.summary.state_size.max, 300);
  t.equal(view.summary.end_to_end_duration.avg, 35);

  const details = stats.details(1)!;
  t.ok(checkpointStatisticsSchema.safeParse(details).success);
  t.match(details.tasks[vertexHexId("0-source")], {
    latest_ack_timestamp: 1020,
    end_to_end_duration: 20,
    state_size: 200,
    num_subtasks: 2,
    num_acknowledged_subtasks: 2,
  });
  const sink = stats.subtasks(1, vertexHexId("1-sink"))!;
  t.ok(taskCheckpointWithSubtasksSchema.safeParse(sink).success);
  t.same(stats.subtasks(1, "1-sink"), sink, "a vertex by its flotilla id too");
  t.match(sink.subtasks, [{ index: 0, status: "completed", ack_timestamp: 1030, state_size: 100 }]);
  t.equal(stats.subtasks(1, "2-nothing"), undefined);
});

t.test("pending, failed with its cause, savepoints, restores, discarded", async (t) => {
  const stats = new CheckpointStats();
  stats.triggered(1, 1000, { savepoint: false, vertices });
  stats.acknowledged(1, "0-source", 1, 1010, 50);
  stats.acknowledged(1, "0-source", 1, 1011, 50); // twice: counted once
  stats.acknowledged(1, "0-source", 7, 1012, 50); // no such subtask
  const pending = stats.statistics();
  t.equal(pending.counts.in_progress, 1);
  t.match(pending.history[0], { className: "in_progress", num_acknowledged_subtasks: 1 });
  t.match(stats.subtasks(1, "0-source")!.subtasks, [
    { className: "pending", index: 0, status: "pending_or_failed" },
    { className: "completed", index: 1, state_size: 50 },
  ]);

  stats.failed(1, 1500, "not complete after 500 ms");
  stats.acknowledged(1, "0-source", 0, 1600, 50); // late: ignored
  const failed = stats.statistics();
  t.match(failed.latest.failed, {
    className: "failed",
    status: "FAILED",
    failure_timestamp: 1500,
    failure_message: "not complete after 500 ms",
    num_acknowledged_subtasks: 1,
  });
  t.same(failed.counts, { restored: 0, total: 1, in_progress: 0, completed: 0, failed: 1 });

  stats.triggered(2, 2000, { savepoint: true, vertices });
  for (const [v, i] of [
    ["0-source", 0],
    ["0-source", 1],
    ["1-sink", 0],
  ] as const)
    stats.acknowledged(2, v, i, 2005, 10);
  stats.completed(2, 2010, "savepoints/job/2");
  complete(stats, 3, 3000);
  complete(stats, 4, 4000);
  stats.discarded(3);
  stats.restored(4, 5000, { savepoint: false, path: "checkpoints/job/4" });
  const view = stats.statistics();
  t.match(view.latest.savepoint, {
    id: 2,
    is_savepoint: true,
    checkpoint_type: "SAVEPOINT",
    external_path: "savepoints/job/2",
  });
  t.equal(view.latest.completed?.id, 4, "the latest checkpoint, not the savepoint");
  t.same(view.latest.restored, {
    id: 4,
    restore_timestamp: 5000,
    is_savepoint: false,
    external_path: "checkpoints/job/4",
  });
  t.equal(view.counts.restored, 1);
  t.match(
    view.history.map((c) => [c.id, c.className]),
    [
      [4, "completed"],
      [3, "completed"],
      [2, "completed"],
      [1, "failed"],
    ],
  );
  t.match(view.history[1], { discarded: true });
});

t.test("bounded: the last `history` checkpoints whole, counts and summary over all", async (t) => {
  const stats = new CheckpointStats({ history: 3 });
  for (let id = 1; id <= 10; id++) complete(stats, id, id * 1000, id);
  const view = stats.statistics();
  t.same(
    view.history.map((c) => c.id),
    [10, 9, 8],
  );
  t.equal(view.counts.completed, 10);
  t.equal(view.summary.state_size.min, 3, "3 subtasks of 1 byte: checkpoint 1");
  t.equal(view.summary.state_size.max, 30);
  t.equal(view.summary.state_size.p50, 16.5, "linear between the middle two of 3..30");
  t.equal(stats.details(7), undefined, "no details past the history");
  t.equal(stats.subtasks(7, "0-source"), undefined, "nor per-subtask ones");
  t.ok(stats.details(8));
  t.same(stats.keptIds(), [10, 9, 8]);
});

t.test("the coordinator tells the statistics of each checkpoint", async (t) => {
  const graph = defineJob({ name: "stats", parallelism: 2 }, (env) =>
    env
      .source(sources.collection([1, 2, 3]))
      .rebalance()
      .sink(sinks.discard()),
  ).graph();
  const stats = new CheckpointStats();
  const store = memorySnapshotStore();
  const coordinator = new CheckpointCoordinator({
    jobId: "job",
    graph,
    store,
    log: silentLogger,
    stats,
  });
  const acked = (id: number) =>
    Promise.all(
      graph.vertices.flatMap((v) =>
        Array.from({ length: v.parallelism }, async (_, i) => {
          const task = coordinator.forTask(v.id, i);
          const bytes = new Uint8Array(8 + i);
          task.acknowledge(id, await task.store(id, bytes), bytes.byteLength);
        }),
      ),
    );
  const triggered: number[] = [];
  coordinator.attach({
    trigger: (id) => {
      triggered.push(id);
      // As the JobManager does when a trigger call fails (after it was sent).
      if (id === 2) queueMicrotask(() => coordinator.abort(id, "the trigger to tm-1 failed"));
    },
    notify: async () => {},
  });
  const first = coordinator.triggerCheckpoint();
  await acked(triggered[0]!);
  await first;
  await t.rejects(coordinator.triggerCheckpoint(), /the trigger to tm-1 failed/);
  coordinator.detach();
  const view = stats.statistics();
  const subtasks = graph.vertices.reduce((n, v) => n + v.parallelism, 0);
  t.match(view.latest.completed, {
    id: 1,
    num_subtasks: subtasks,
    num_acknowledged_subtasks: subtasks,
    state_size: graph.vertices.reduce(
      (n, v) => n + v.parallelism * 8 + (v.parallelism * (v.parallelism - 1)) / 2,
      0,
    ),
    external_path: "checkpoints/job/1",
  });
  t.match(view.latest.failed, { id: 2, failure_message: "the trigger to tm-1 failed" });
  t.same(view.counts, { restored: 0, total: 2, in_progress: 0, completed: 1, failed: 1 });
});
