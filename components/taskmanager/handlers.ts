/**
 * What the TaskManager does for each route of its contract (components/protocol taskmanager.ts):
 * the ResourceManager's heartbeat and slot allocations, and the JobManagers' deployments,
 * cancels, checkpoint triggers and completions, and slots given back. The decisions are the
 * slot and task tables'; the effects are the TaskManager's (`TaskManagerCore`).
 */
import {
  type AllocationId,
  ErrorCode,
  FlotillaError,
  type JobId,
  NotFoundError,
  type SlotId,
  type TaskManagerId,
  type TaskState,
} from "../core/mod.ts";
import { processStatus } from "../metrics/mod.ts";
import type { TaskManagerHandlers } from "../protocol/mod.ts";
import type { ReportQueue } from "./reports.ts";
import type { HeldSlot, SlotTable } from "./slot_table.ts";
import { type Deployment, deploymentKey, type RunningTask, type TaskTable } from "./task_table.ts";

/**
 * What the TaskManager needs of a subtask, wherever it runs: the dataflow runtime's Task (in
 * this process) or a RemoteTask (in the job's process).
 */
export interface HostedTask extends RunningTask {
  readonly state: TaskState;
  metrics(): Record<string, number>;
  run(): Promise<unknown>;
  notifyCheckpointComplete(id: number): Promise<void>;
}

export type TaskDeployment = Deployment<HostedTask, ReportQueue>;

/** What the handlers need from the TaskManager. */
export interface TaskManagerCore {
  readonly tmId: TaskManagerId;
  /** Where the JobManager of `jobId` answers: the only subject its slots and subtasks report to. */
  jobManagerSubject(jobId: JobId): string;
  readonly slots: SlotTable;
  readonly tasks: TaskTable<HostedTask, ReportQueue>;
  registered(): boolean;
  /** The report queue of a new subtask of the JobManager at `jmSubject`. */
  reportsTo(jmSubject: string): ReportQueue;
  /** Offers a freshly allocated slot to its job's JobManager (in the background). */
  offer(slot: HeldSlot, jmSubject: string): void;
  /** Loads the subtask's job graph and starts its task. */
  start(deployment: TaskDeployment): Promise<void>;
  /** A set-up that failed: the deployment goes, with its reports. */
  abandon(deployment: TaskDeployment, reason: string): void;
  /** Cancels the allocation's subtasks, drops their reports and frees the slot. */
  release(slotId: SlotId, allocationId: AllocationId, why: string): Promise<boolean>;
}

export function taskManagerHandlers(tm: TaskManagerCore): TaskManagerHandlers {
  const { slots, tasks } = tm;

  /** Subtask calls name a job this TaskManager must know: it holds a slot or a subtask of it. */
  function known(jobId: JobId): void {
    if (slots.heldBy(jobId).length > 0 || tasks.has(jobId)) return;
    throw new NotFoundError(
      ErrorCode.JOB_NOT_FOUND,
      `TaskManager ${tm.tmId} holds no slot and runs no task of job ${jobId} (its slots were freed, or never allocated here)`,
    );
  }

  /**
   * A slot is offered, and a subtask reports, to its job's JobManager only: a call naming another
   * subject (which would send the job's slots, results and checkpoints elsewhere) is refused.
   */
  function ownJobManager(jobId: JobId, jmSubject: string): void {
    const expected = tm.jobManagerSubject(jobId);
    if (jmSubject !== expected)
      throw new FlotillaError(
        ErrorCode.INVALID_ARGUMENT,
        `jmSubject ${JSON.stringify(jmSubject)} is not the JobManager of job ${jobId} (${expected})`,
      );
  }

  async function cancel(jobId: JobId, upToAttempt: number, reason: string): Promise<number> {
    const running = tasks.cancel(jobId, upToAttempt, reason);
    await Promise.all(running.map((d) => d.task?.cancel(reason)));
    return running.length;
  }

  return {
    health: () => ({ ok: true, tmId: tm.tmId, registered: tm.registered() }),
    // Its process's Status figures, for the Dispatcher's /taskmanagers/:id/metrics.
    metrics: () => processStatus(),
    slots: () => slots.reports(),
    heartbeat: () => ({ tmId: tm.tmId, slots: slots.reports() }),

    allocate(slotId, { jobId, allocationId, jmSubject }) {
      ownJobManager(jobId, jmSubject);
      const { slot, fresh } = slots.allocate(slotId, jobId, allocationId);
      // A retried allocation is on its way to the JobManager already (or there).
      if (fresh) tm.offer(slot, jmSubject);
      return { slotId, allocationId };
    },

    async deploy(descriptor) {
      const { jobId, attempt, allocationId } = descriptor;
      // Only for an allocation this TaskManager holds for the job, reporting to the job's JobManager.
      slots.byAllocation(allocationId, jobId);
      ownJobManager(jobId, descriptor.jmSubject);
      const deployment = tasks.admit(descriptor, () => tm.reportsTo(descriptor.jmSubject));
      if (deployment) {
        try {
          // Tasks of an older attempt (left by a JobManager that was replaced) go first.
          await cancel(jobId, attempt - 1, `replaced by attempt ${attempt}`);
          await tm.start(deployment);
        } catch (err) {
          tm.abandon(deployment, "its set-up failed");
          throw err;
        }
      }
      return { deployed: deploymentKey(descriptor) };
    },

    async freeSlot(slotId, { allocationId }) {
      slots.get(slotId);
      return { freed: await tm.release(slotId, allocationId, "slot freed by the JobManager") };
    },

    async cancelTasks(jobId, { attempt }) {
      known(jobId);
      return { canceled: await cancel(jobId, attempt, "canceled by the JobManager") };
    },

    triggerCheckpoint(jobId, checkpointId, { attempt, final }) {
      known(jobId);
      const sources = tasks.trigger(jobId, attempt, { id: checkpointId, final });
      for (const task of sources) task.triggerCheckpoint(checkpointId, final);
      return { triggered: sources.length };
    },

    async confirmCheckpoint(jobId, checkpointId) {
      known(jobId);
      const running = tasks.running(jobId);
      await Promise.all(running.map((d) => d.task?.notifyCheckpointComplete(checkpointId)));
      return { notified: running.length };
    },
  };
}
