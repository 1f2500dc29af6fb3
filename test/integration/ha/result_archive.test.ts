/**
 * The history archive of a job with 32,768 subtasks, 16 restarts and 10 checkpoints goes into its
 * result record on a real nats-server's JetStream KV (max_payload 1 MiB) and comes back whole.
 */
import t from "tap";
import {
  ErrorCode,
  FlotillaError,
  JobState,
  type TaskManagerId,
  TaskState,
} from "../../../components/core/mod.ts";
import { natsHaServices } from "../../../components/ha/mod.ts";
import { JobHistory } from "../../../components/jobmanager/mod.ts";
import {
  JOB_HISTORY_ARCHIVE_MAX_BYTES,
  type VertexDetails,
} from "../../../components/protocol/mod.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

t.test("a large job's archive fits its KV result record", async (t) => {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const ha = await natsHaServices({ nc, clusterId: "test" });

  const parallelism = 16_384;
  const history = new JobHistory({
    checkpointing: { intervalMs: 1000, timeoutMs: 60_000, tolerableFailures: 3 },
  });
  const ids = ["0-source", "1-map"].map((id) => ({ id, parallelism }));
  for (let id = 1; id <= 10; id++) {
    history.checkpoints.triggered(id, id * 1000, { savepoint: false, vertices: ids });
    for (const v of ids)
      for (let i = 0; i < parallelism; i++)
        history.checkpoints.acknowledged(id, v.id, i, id * 1000 + 7, 4096);
    history.checkpoints.completed(id, id * 1000 + 9, `checkpoints/j/${id}`);
  }
  for (let attempt = 0; attempt < 16; attempt++)
    for (let i = 0; i < 16; i++)
      history.failed(
        attempt,
        new FlotillaError(ErrorCode.INTERNAL, `attempt ${attempt} task ${i}: ${"y".repeat(8000)}`),
        { taskName: `map (${i + 1}/${parallelism})`, taskManagerId: `tm-${i}` },
      );
  const vertices: VertexDetails[] = ids.map((v) => ({
    id: v.id,
    name: v.id,
    parallelism,
    tasks: { FINISHED: parallelism },
    recordsIn: 0,
    recordsOut: 0,
    "start-time": 1,
    "end-time": 2,
    subtasks: Array.from({ length: parallelism }, (_, i) => ({
      subtask: i,
      state: TaskState.FINISHED,
      taskmanager: "tm-1" as TaskManagerId,
      recordsIn: 1,
      recordsOut: 1,
      attempt: 16,
      host: "tm-1",
      "taskmanager-id": "tm-1" as TaskManagerId,
      "start-time": 1,
      "end-time": 2,
    })),
  }));
  const archive = history.archive(vertices);
  const record = {
    jobId: "j".repeat(32),
    name: "large",
    state: JobState.FINISHED,
    restarts: 16,
    checkpoints: 10,
    submittedAt: 1,
    finishedAt: 2,
    history: archive,
  };
  const bytes = new TextEncoder().encode(JSON.stringify(record)).byteLength;
  t.ok(bytes <= JOB_HISTORY_ARCHIVE_MAX_BYTES + 1024, `the record is ${bytes} bytes`);
  t.ok(bytes < (nc.info?.max_payload ?? 1024 * 1024) / 4, "well under the server's max_payload");
  t.ok(archive.trimmed.length > 0, `trimmed: ${archive.trimmed.join("; ")}`);

  await ha.jobResults.put(record);
  const back = await ha.jobResults.get(record.jobId);
  t.same(back, record, "stored and read back whole");
  t.equal((await ha.jobResults.list()).length, 1);
});
