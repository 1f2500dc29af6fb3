/**
 * The subtasks a TaskManager runs and the ones it is setting up, and what a deployment, a cancel
 * or a checkpoint trigger means for them (no I/O: the handlers carry out what it decides).
 */
import type { AllocationId, JobId } from "../core/mod.ts";
import type { TaskDescriptor } from "../protocol/mod.ts";

/** What the table needs of a running task (the dataflow runtime's Task has it). */
export interface RunningTask {
  readonly vertex: { readonly source?: unknown };
  cancel(reason: string): Promise<void>;
  triggerCheckpoint(id: number, final: boolean): void;
}

/** Something that stops for good when the task's JobManager is done with it: its reports. */
export interface Closable {
  close(reason: string): void;
}

export interface CheckpointTrigger {
  id: number;
  final: boolean;
}

/** One deployed subtask: being set up until `task` exists. */
export interface Deployment<T extends RunningTask, R extends Closable = Closable> {
  readonly key: string;
  readonly descriptor: TaskDescriptor;
  /** Reports to the subtask's JobManager, in order. */
  readonly reports: R;
  task?: T;
  /**
   * Checkpoint triggers of its attempt that came while it was set up (the artifact may still be
   * loading): a source that missed its trigger would leave every channel that already delivered
   * the barrier blocked, and the job stalled until the checkpoint times out.
   */
  readonly triggers: CheckpointTrigger[];
  /** Canceled while being set up: the task is canceled as soon as it exists. */
  canceled?: string;
}

/** What a subtask that just came into existence must be told. */
export type StartAction =
  | { kind: "cancel"; reason: string }
  | { kind: "trigger"; triggers: CheckpointTrigger[] };

/** `<jobId>/<attempt>/<vertexId>/<subtask>`: a retried deployment of it is the same one. */
export function deploymentKey(
  d: Pick<TaskDescriptor, "jobId" | "attempt" | "vertexId" | "subtask">,
): string {
  return `${d.jobId}/${d.attempt}/${d.vertexId}/${d.subtask}`;
}

export class TaskTable<T extends RunningTask, R extends Closable = Closable> {
  readonly #deployments = new Map<string, Deployment<T, R>>();

  /**
   * A new deployment of `descriptor`, being set up; undefined when it is deployed already (a
   * retried `POST /tasks`). Checking that its allocation holds a slot is the caller's part.
   */
  admit(descriptor: TaskDescriptor, reports: () => R): Deployment<T, R> | undefined {
    const key = deploymentKey(descriptor);
    if (this.#deployments.has(key)) return undefined;
    const deployment: Deployment<T, R> = { key, descriptor, reports: reports(), triggers: [] };
    this.#deployments.set(key, deployment);
    return deployment;
  }

  /** The task of a deployment exists: what it must be told now. */
  started(deployment: Deployment<T, R>, task: T): StartAction {
    deployment.task = task;
    if (deployment.canceled !== undefined) return { kind: "cancel", reason: deployment.canceled };
    return { kind: "trigger", triggers: task.vertex.source ? [...deployment.triggers] : [] };
  }

  /** The deployment is over (its task ended and its reports went, or its set-up failed). */
  remove(deployment: Deployment<T, R>): void {
    if (this.#deployments.get(deployment.key) === deployment)
      this.#deployments.delete(deployment.key);
  }

  /**
   * Cancels the job's subtasks of attempts up to `upToAttempt`: the ones being set up are
   * marked; the running ones are returned, for the caller to cancel.
   */
  cancel(jobId: JobId, upToAttempt: number, reason: string): Deployment<T, R>[] {
    const matching = this.#of(
      (d) => d.descriptor.jobId === jobId && d.descriptor.attempt <= upToAttempt,
    );
    for (const d of matching) if (!d.task) d.canceled ??= reason;
    return matching.filter((d) => d.task);
  }

  /**
   * A checkpoint trigger for one attempt of a job: kept for its sources being set up; returns
   * the running sources, for the caller to trigger.
   */
  trigger(jobId: JobId, attempt: number, trigger: CheckpointTrigger): T[] {
    const matching = this.#of(
      (d) => d.descriptor.jobId === jobId && d.descriptor.attempt === attempt,
    );
    for (const d of matching) if (!d.task) d.triggers.push(trigger);
    return matching.flatMap((d) => (d.task?.vertex.source ? [d.task] : []));
  }

  /**
   * The JobManager gave the allocation's slot back: it is done with these subtasks. Those being
   * set up are marked canceled; every one is returned (the caller cancels the running ones and
   * closes their reports).
   */
  release(allocationId: AllocationId, reason: string): Deployment<T, R>[] {
    return this.#giveUp((d) => d.descriptor.allocationId === allocationId, reason);
  }

  /** The job's JobManager is lost: as `release`, for every subtask of the job. */
  abandonJob(jobId: JobId, reason: string): Deployment<T, R>[] {
    return this.#giveUp((d) => d.descriptor.jobId === jobId, reason);
  }

  /** The job's subtasks that exist (of every attempt). */
  running(jobId?: JobId): Deployment<T, R>[] {
    return this.#of(
      (d) => d.task !== undefined && (jobId === undefined || d.descriptor.jobId === jobId),
    );
  }

  /** Whether any subtask of the job is here, running or being set up. */
  has(jobId: JobId): boolean {
    return this.#of((d) => d.descriptor.jobId === jobId).length > 0;
  }

  all(): Deployment<T, R>[] {
    return [...this.#deployments.values()];
  }

  #giveUp(test: (d: Deployment<T, R>) => boolean, reason: string): Deployment<T, R>[] {
    const matching = this.#of(test);
    for (const d of matching) if (!d.task) d.canceled ??= reason;
    return matching;
  }

  #of(test: (d: Deployment<T, R>) => boolean): Deployment<T, R>[] {
    return [...this.#deployments.values()].filter(test);
  }
}
