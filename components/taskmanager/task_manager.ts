/**
 * `createTaskManager()`: the TaskManager block. It serves its contract
 * (`taskManagerRoutes(handlers)`), registers at the ResourceManager and reports its slots, offers
 * allocated slots to the job's JobManager, runs the subtasks the JobManager deploys and reports
 * on them; it wires the slot and task tables (the decisions) to those effects.
 */
import {
  type AllocationId,
  isTaskEnd,
  type JobId,
  type SlotId,
  subjects,
  type TaskManagerId,
  TaskState,
} from "../core/mod.ts";
import { trackTaskManager } from "../metrics/mod.ts";
import {
  type JobManagerTaskApp,
  type SlotReport,
  type TaskDescriptor,
  type TaskManagerApp,
  taskManagerRoutes,
} from "../protocol/mod.ts";
import { createClient, FencingTokens } from "../rpc/mod.ts";
import {
  type HostedTask,
  type TaskDeployment,
  type TaskManagerCore,
  taskManagerHandlers,
} from "./handlers.ts";
import { JobConnections } from "./job_connections.ts";
import { JobGraphs } from "./job_graphs.ts";
import { compileTaskManagerOptions, type TaskManagerOptions } from "./options.ts";
import { type MetricsBatch, ReportQueue, sendMetrics } from "./reports.ts";
import { ResourceManagerConnection } from "./rm_connection.ts";
import { SlotOffers } from "./slot_offers.ts";
import { SlotTable } from "./slot_table.ts";
import { createTask, subtaskReports } from "./task_start.ts";
import { TaskTable } from "./task_table.ts";

export interface TaskManager {
  readonly tmId: TaskManagerId;
  /** Where it answers: `subjects.taskManager(cluster, tmId)`. */
  readonly subject: string;
  readonly app: TaskManagerApp;
  slots(): SlotReport[];
  /** Its subtasks that exist, with their state. */
  runningTasks(): (TaskDescriptor & { state: HostedTask["state"] })[];
  isRegistered(): boolean;
  /** Resolves once registered at the ResourceManager; a TimeoutError naming it after `timeoutMs`. */
  whenRegistered(timeoutMs: number): Promise<void>;
  /** Registers at the ResourceManager and heartbeats it. */
  start(): void;
  /** Cancels its subtasks (their reports are dropped) and ends its loops. */
  stop(): Promise<void>;
}

export function createTaskManager(options: TaskManagerOptions): TaskManager {
  const o = compileTaskManagerOptions(options);
  const { tmId, clusterId, transportFor, rpc, heartbeatIntervalMs, heartbeatTimeoutMs } = o;
  const log = o.log.child({ role: "taskmanager", tm: tmId });
  const subject = subjects.taskManager(clusterId, tmId);
  const rmSubject = subjects.resourceManager(clusterId);
  // Only a token the HA store confirms is remembered: one made up cannot lock the real RM out.
  const fencingTokens = new FencingTokens(
    o.verifyFencingToken ? { verify: o.verifyFencingToken } : {},
  );
  const slots = new SlotTable(tmId, [...o.slots]);
  const tasks = new TaskTable<HostedTask, ReportQueue>();
  const graphs = new JobGraphs(o.artifacts);
  const connections = o.connectNats ? new JobConnections(o.connectNats, log) : undefined;

  /** A JobManager's client whose calls end within `timeoutMs` (and the configured deadlines). */
  const jobManager = (jmSubject: string, timeoutMs = rpc.timeoutMs) =>
    createClient<JobManagerTaskApp>(transportFor(jmSubject), {
      timeoutMs: Math.min(rpc.timeoutMs, timeoutMs),
      attemptTimeoutMs: Math.min(rpc.attemptTimeoutMs, timeoutMs),
    });

  const rm = new ResourceManagerConnection({
    tmId,
    rmSubject,
    transport: transportFor(rmSubject),
    registration: () => ({
      tmId,
      subject,
      slots: slots.reports(),
      totalResources: o.totalResources,
    }),
    slots: () => slots.reports(),
    fencingTokens,
    rpc,
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    log,
    onHeartbeat: () => sendMetrics(metricsBatches(), jobManager, heartbeatIntervalMs, log),
  });

  const offers = new SlotOffers({
    tmId,
    subject,
    slots,
    transportFor,
    rpc,
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    log,
    release: (slotId, allocationId, why, options) => release(slotId, allocationId, why, options),
    jobManagerLost: (jobId, reason) => jobManagerLost(jobId, reason),
  });

  /** Running subtasks' counters, per JobManager and attempt. */
  function metricsBatches(): MetricsBatch[] {
    const batches = new Map<string, MetricsBatch>();
    for (const { descriptor: d, task } of tasks.running()) {
      if (task?.state !== TaskState.RUNNING) continue;
      const key = `${d.jmSubject}/${d.attempt}`;
      let batch = batches.get(key);
      if (!batch) {
        batch = { jmSubject: d.jmSubject, report: { attempt: d.attempt, tasks: [] } };
        batches.set(key, batch);
      }
      batch.report.tasks.push({
        vertexId: d.vertexId,
        subtask: d.subtask,
        metrics: task.metrics(),
      });
    }
    return [...batches.values()];
  }

  /**
   * Once a job holds no slot here, its JobManager is not watched; with no subtask left, its
   * graphs and NATS connections go.
   */
  function jobMayHaveLeft(jobId: JobId): void {
    if (slots.heldBy(jobId).length > 0) return;
    offers.forget(jobId);
    if (tasks.has(jobId)) return;
    graphs.forget(jobId);
    void connections?.forget(jobId);
    void o.jobProcesses?.forget(jobId);
  }

  /** The JobManager is done with these subtasks: no more reports, and they stop. */
  async function giveUp(deployments: TaskDeployment[], why: string): Promise<void> {
    for (const d of deployments) {
      d.reports.close(why);
      if (!d.task) d.canceled ??= why;
    }
    await Promise.all(deployments.map((d) => d.task?.cancel(why)));
  }

  async function release(
    slotId: SlotId,
    allocationId: AllocationId,
    why: string,
    { promptly = true }: { promptly?: boolean } = {},
  ) {
    const { jobId } = slots.get(slotId);
    if (slots.holds(slotId, allocationId)) await giveUp(tasks.release(allocationId, why), why);
    const freed = slots.free(slotId, allocationId);
    if (freed && promptly) rm.reportNow();
    if (jobId) jobMayHaveLeft(jobId);
    return freed;
  }

  async function jobManagerLost(jobId: JobId, reason: string): Promise<number> {
    await giveUp(tasks.abandonJob(jobId, reason), reason);
    const held = slots.heldBy(jobId);
    for (const slot of held) slots.free(slot.slotId, slot.allocationId);
    if (held.length > 0) rm.reportNow();
    jobMayHaveLeft(jobId);
    return held.length;
  }

  const core: TaskManagerCore = {
    tmId,
    jobManagerSubject: (jobId) => subjects.jobManager(clusterId, jobId),
    slots,
    tasks,
    registered: () => rm.registered,
    reportsTo: (jmSubject) =>
      new ReportQueue({
        jobManager: (timeoutMs) => jobManager(jmSubject, timeoutMs),
        jmSubject,
        deadlineMs: heartbeatTimeoutMs,
        log,
      }),
    offer: (slot, jmSubject) => void offers.offer(slot, jmSubject),
    async start(deployment) {
      const d = deployment.descriptor;
      const task: HostedTask = o.jobProcesses
        ? await o.jobProcesses.deploy(
            d,
            subtaskReports(d, deployment.reports, { snapshots: o.snapshots, jobManager }),
          )
        : createTask(d, await graphs.graphFor(d), deployment.reports, {
            channelsFor: o.channelsFor,
            snapshots: o.snapshots,
            ...(connections
              ? { connectNats: (servers?: string) => connections.for(d.jobId, servers) }
              : {}),
            jobManager: (jmSubject) => jobManager(jmSubject),
            log,
          });
      const now = tasks.started(deployment, task);
      if (now.kind === "cancel") void task.cancel(now.reason);
      else for (const { id, final } of now.triggers) task.triggerCheckpoint(id, final);
      void task
        .run()
        .catch(() => {}) // its failure is reported as its state
        .then(() => deployment.reports.settled())
        .finally(() => {
          tasks.remove(deployment);
          jobMayHaveLeft(d.jobId);
        });
    },
    abandon(deployment, reason) {
      deployment.reports.close(reason);
      tasks.remove(deployment);
      jobMayHaveLeft(deployment.descriptor.jobId);
    },
    release,
  };

  const app = taskManagerRoutes(taskManagerHandlers(core), { fencingTokens, log });

  // Its subtasks' counters on the process's /metrics, until it stops.
  const untrackMetrics = trackTaskManager(tmId, () =>
    tasks.running().flatMap(({ descriptor: d, task }) =>
      task && !isTaskEnd(task.state)
        ? [
            {
              tmId,
              jobId: d.jobId,
              jobName: d.jobName ?? jobNameOf(task) ?? "",
              vertexId: d.vertexId,
              taskName: nameOf(task.vertex) ?? d.vertexId,
              subtask: d.subtask,
              attempt: d.attempt,
              counters: task.metrics(),
            },
          ]
        : [],
    ),
  );

  return {
    tmId,
    subject,
    app,
    slots: () => slots.reports(),
    runningTasks: () =>
      tasks.running().flatMap((d) => (d.task ? [{ ...d.descriptor, state: d.task.state }] : [])),
    isRegistered: () => rm.registered,
    whenRegistered: (timeoutMs) => rm.whenRegistered(timeoutMs),
    start: () => rm.start(),
    async stop() {
      untrackMetrics();
      offers.stop();
      await giveUp(tasks.all(), "TaskManager stopping");
      await connections?.closeAll();
      await o.jobProcesses?.closeAll();
      await rm.stop();
    },
  };
}

/** A vertex's name where the task has its vertex (in this process); a job process's does not. */
function nameOf(vertex: object): string | undefined {
  return "name" in vertex && typeof vertex.name === "string" ? vertex.name : undefined;
}

/** The job's name where the task runs in this process (it has the graph); not a job process's. */
function jobNameOf(task: object): string | undefined {
  return "jobName" in task && typeof task.jobName === "string" ? task.jobName : undefined;
}
