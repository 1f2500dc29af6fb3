/**
 * The master's cluster-wide series: the ResourceManager's TaskManagers, slots and pending
 * requirements (Flink's JobManager-scope names), and the Dispatcher's jobs, submissions and
 * submit latency (flotilla's names where Flink has none).
 */
import { Counter, Gauge, Histogram } from "prom-client";
import { trackedJobCount } from "./jobs.ts";
import { FlinkScope, flinkMetricName } from "./names.ts";
import { processMetrics } from "./registry.ts";

/** What the ResourceManager's slot manager tells (its `overview()`). */
export interface ResourceSnapshot {
  taskmanagers: number;
  slotsTotal: number;
  slotsFree: number;
  pendingRequirements: number;
  pendingTaskManagers: number;
}

let resources: (() => ResourceSnapshot) | undefined;
let resourceGauges: { name: string; gauge: Gauge }[] | undefined;

/** The gauges of the ResourceManager's figures, made once (registered while one is tracked). */
function makeResourceGauges(): { name: string; gauge: Gauge }[] {
  const gauge = (name: string, help: string, value: (s: ResourceSnapshot) => number) => ({
    name,
    gauge: new Gauge({
      name,
      help,
      registers: [],
      collect() {
        if (resources) this.set(value(resources()));
      },
    }),
  });
  const jm = (name: string) => flinkMetricName(FlinkScope.JOB_MANAGER, name);
  return [
    gauge(jm("numRegisteredTaskManagers"), "TaskManagers registered.", (s) => s.taskmanagers),
    gauge(jm("taskSlotsTotal"), "Slots of the registered TaskManagers.", (s) => s.slotsTotal),
    gauge(jm("taskSlotsAvailable"), "Slots free.", (s) => s.slotsFree),
    gauge(
      jm("numPendingTaskManagers"),
      "TaskManagers asked of the driver that have not registered yet.",
      (s) => s.pendingTaskManagers,
    ),
    gauge(
      "flotilla_jobmanager_pendingSlotRequirements",
      "Slots jobs declared and do not hold yet.",
      (s) => s.pendingRequirements,
    ),
  ];
}

/**
 * Serves the leading ResourceManager's figures until the returned function is called; without
 * one (a standby, a TaskManager) the series are absent rather than a misleading 0.
 */
export function trackResourceManager(overview: () => ResourceSnapshot): () => void {
  const { registry } = processMetrics();
  resourceGauges ??= makeResourceGauges();
  if (!resources) for (const { gauge } of resourceGauges) registry.registerMetric(gauge);
  resources = overview;
  return () => {
    if (resources !== overview) return;
    resources = undefined;
    for (const { name } of resourceGauges ?? []) registry.removeSingleMetric(name);
  };
}

export interface DispatcherMetrics {
  /** Submissions by outcome (`accepted`, or the error code that refused it). */
  readonly submissions: Counter<"outcome">;
  /** From the request to the job's id (graph built, job stored, JobManager started). */
  readonly submitSeconds: Histogram<"outcome">;
  /** Counts the submission `submit` makes, and its time, whatever its outcome. */
  timeSubmission<T>(submit: () => Promise<T>): Promise<T>;
}

let dispatcher: DispatcherMetrics | undefined;

export function dispatcherMetrics(): DispatcherMetrics {
  if (dispatcher) return dispatcher;
  const { registry } = processMetrics();
  const submissions = new Counter({
    name: "flotilla_dispatcher_submissions_total",
    help: "Job submissions, by outcome (accepted, or the error code that refused them).",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const submitSeconds = new Histogram({
    name: "flotilla_dispatcher_submit_duration_seconds",
    help: "Time from a submission to its answer, by outcome.",
    labelNames: ["outcome"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: flinkMetricName(FlinkScope.JOB_MANAGER, "numRunningJobs"),
    help: "Jobs whose JobManager runs in this process (not ended).",
    registers: [registry],
    collect() {
      this.set(trackedJobCount());
    },
  });
  dispatcher = {
    submissions,
    submitSeconds,
    async timeSubmission(submit) {
      const end = submitSeconds.startTimer();
      try {
        const answer = await submit();
        submissions.inc({ outcome: "accepted" });
        end({ outcome: "accepted" });
        return answer;
      } catch (err) {
        const outcome = outcomeOf(err);
        submissions.inc({ outcome });
        end({ outcome });
        throw err;
      }
    },
  };
  return dispatcher;
}

/** An error's stable code, or `error`: a bounded label (codes are a fixed set). */
function outcomeOf(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && /^[A-Z_]{1,32}$/.test(code) ? code : "error";
}
