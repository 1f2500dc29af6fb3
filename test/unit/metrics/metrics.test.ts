/** components/metrics: Flink's names and labels on the process registry, series that come and go, caps. */
import t from "tap";
import { vertexHexId } from "../../../components/core/mod.ts";
import {
  FlinkScope,
  flinkMetricName,
  type JobMetricsSnapshot,
  processMetrics,
  scrapeTargets,
  type TaskMetricsRow,
  trackJob,
  trackResourceManager,
  trackScrapeTargets,
  trackTaskManager,
} from "../../../components/metrics/mod.ts";
import { TrackedSources } from "../../../components/metrics/snapshots.ts";

/** The value of the one series of `name` whose labels include every pair of `labels`. */
async function sample(name: string, labels: Record<string, string> = {}): Promise<number[]> {
  const text = await processMetrics().text();
  const values: number[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    values.push(Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return values;
}

t.test("Flink's reporter naming: flink_<scope>_<name>, dots as underscores", async (t) => {
  t.equal(
    flinkMetricName(FlinkScope.TASK_MANAGER_TASK, "numRecordsIn"),
    "flink_taskmanager_job_task_numRecordsIn",
  );
  t.equal(
    flinkMetricName(FlinkScope.JOB_MANAGER, "Status.JVM.Memory.Heap.Used"),
    "flink_jobmanager_Status_JVM_Memory_Heap_Used",
  );
});

t.test(
  "process metrics: prom-client's defaults and Flink's Status gauges, with host",
  async (t) => {
    const text = await processMetrics().text("extra_line 1\n");
    t.match(text, /^process_resident_memory_bytes\{host="[^"]+"\} \d+/m, "RSS (prom-client)");
    t.match(text, /^nodejs_eventloop_lag_seconds\{host="[^"]+"\} /m, "event-loop lag");
    t.match(text, /^flink_jobmanager_Status_JVM_Memory_Heap_Used\{host="[^"]+"\} \d+/m);
    t.match(text, /^flink_jobmanager_Status_ProcessTree_Memory_RSS\{host="[^"]+"\} \d+/m);
    t.match(text, /^flink_jobmanager_Status_JVM_CPU_Load\{host="[^"]+"\} /m);
    t.match(text, /\nextra_line 1\n$/, "text from outside prom-client is appended");
  },
);

const job = (over: Partial<JobMetricsSnapshot> = {}): JobMetricsSnapshot => ({
  jobId: "a".repeat(32),
  jobName: "wordcount",
  uptimeMs: 1500,
  numRestarts: 2,
  completedCheckpoints: 7,
  failedCheckpoints: 1,
  inProgressCheckpoints: 1,
  lastCheckpointDurationMs: 40,
  lastCheckpointSizeBytes: 1234,
  lastCheckpointRestoreTimestamp: -1,
  ...over,
});

t.test("a tracked job's series, read at scrape time, gone once untracked", async (t) => {
  let restarts = 2;
  const untrack = trackJob("a".repeat(32), () => job({ numRestarts: restarts }));
  const labels = { job_id: "a".repeat(32), job_name: "wordcount" };
  t.same(await sample("flink_jobmanager_job_numRestarts", labels), [2]);
  restarts = 3;
  t.same(await sample("flink_jobmanager_job_numRestarts", labels), [3], "read again per scrape");
  t.same(await sample("flink_jobmanager_job_numberOfCompletedCheckpoints", labels), [7]);
  t.same(await sample("flink_jobmanager_job_totalNumberOfCheckpoints", labels), [9]);
  t.same(await sample("flink_jobmanager_job_lastCheckpointSize", labels), [1234]);
  t.same(await sample("flink_jobmanager_job_uptime", labels), [1500]);
  untrack();
  t.same(await sample("flink_jobmanager_job_numRestarts", labels), [], "no series after it ended");
});

t.test("task series carry Flink's labels; per-second rates between scrapes", async (t) => {
  const counters = { recordsIn: 100, recordsOut: 50, bytesIn: 0, bytesOut: 10, creditWaits: 4 };
  const row = (): TaskMetricsRow => ({
    tmId: "tm-metrics-test",
    jobId: "b".repeat(32),
    jobName: "",
    vertexId: "1-map",
    taskName: "Map",
    subtask: 1,
    attempt: 0,
    counters: { ...counters },
  });
  const untrack = trackTaskManager("tm-metrics-test", () => [row()]);
  const labels = {
    tm_id: "tm-metrics-test",
    job_id: "b".repeat(32),
    task_id: vertexHexId("1-map"),
    task_name: "Map",
    subtask_index: "1",
  };
  t.same(await sample("flink_taskmanager_job_task_numRecordsIn", labels), [100]);
  t.same(await sample("flink_taskmanager_job_task_numBytesOut", labels), [10]);
  t.same(await sample("flotilla_taskmanager_job_task_creditWaits", labels), [4]);
  t.same(
    await sample("flink_taskmanager_job_task_currentInputWatermark", labels),
    [-(2 ** 63)],
    "no watermark yet: Long.MIN_VALUE, as Flink reports it",
  );
  counters.recordsIn = 300;
  const [rate] = await sample("flink_taskmanager_job_task_numRecordsInPerSecond", labels);
  t.ok(rate !== undefined && rate > 0, `records came in since the last scrape: rate ${rate}`);
  t.same(
    await sample("flink_taskmanager_job_task_numRecordsOutPerSecond", labels),
    [0],
    "nothing went out since",
  );
  untrack();
  t.same(await sample("flink_taskmanager_job_task_numRecordsIn", labels), [], "gone with the TM");
});

t.test("the ResourceManager's figures under Flink's JobManager-scope names", async (t) => {
  const untrack = trackResourceManager(() => ({
    taskmanagers: 3,
    slotsTotal: 12,
    slotsFree: 5,
    pendingRequirements: 2,
    pendingTaskManagers: 1,
  }));
  t.same(await sample("flink_jobmanager_numRegisteredTaskManagers"), [3]);
  t.same(await sample("flink_jobmanager_taskSlotsTotal"), [12]);
  t.same(await sample("flink_jobmanager_taskSlotsAvailable"), [5]);
  t.same(await sample("flink_jobmanager_numPendingTaskManagers"), [1]);
  t.same(await sample("flotilla_jobmanager_pendingSlotRequirements"), [2]);
  untrack();
  t.same(await sample("flink_jobmanager_numRegisteredTaskManagers"), [], "no RM leads here now");
});

t.test("tracked sources are capped: what is over the cap is counted, not served", async (t) => {
  const sources = new TrackedSources<number>(3);
  sources.track("a", () => [1, 2]);
  const untrackB = sources.track("b", () => [3, 4]);
  sources.track("c", () => {
    throw new Error("going away");
  });
  t.same(sources.rows(), { rows: [1, 2, 3], dropped: 1 });
  untrackB();
  t.same(sources.rows(), { rows: [1, 2], dropped: 0 }, "a source that throws gives no rows");
});

t.test("Prometheus http_sd: the TaskManagers a driver runs, at the health port", async (t) => {
  t.same(scrapeTargets(8080), [], "no ResourceManager leads here: no targets");
  const untrack = trackScrapeTargets(() => [{ tmId: "tm-1", host: "flotilla-c-tm-1" }]);
  t.same(scrapeTargets(8080), [
    { targets: ["flotilla-c-tm-1:8080"], labels: { tm_id: "tm-1", flotilla_role: "taskmanager" } },
  ]);
  untrack();
  t.same(scrapeTargets(8080), []);
});
