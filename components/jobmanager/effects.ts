/**
 * The JobManager's calls to its peers, typed by their contracts: requirements and allocation
 * checks to the ResourceManager; deployments, checkpoint triggers and confirmations, cancels and freed slots
 * to TaskManagers. It decides nothing: callers choose what to call and what a failure means.
 */
import {
  type AllocationId,
  ErrorCode,
  FlotillaError,
  type JobId,
  type Logger,
} from "../core/mod.ts";
import type {
  AllocationInfo,
  ResourceManagerApp,
  ResourceRequirement,
  TaskDescriptor,
  TaskManagerTaskApp,
} from "../protocol/mod.ts";
import {
  type CallDeadlines,
  createClient,
  type RpcClient,
  type Transport,
  unwrap,
} from "../rpc/mod.ts";
import type { PooledSlot } from "./slot_pool.ts";

export interface JobManagerEffectsOptions {
  jobId: JobId;
  /** Where this JobManager answers: slots are offered and tasks report there. */
  subject: string;
  rmSubject: string;
  transportFor(subject: string): Transport;
  rpc: CallDeadlines;
  log: Logger;
}

export class JobManagerEffects {
  readonly #o: JobManagerEffectsOptions;
  readonly #rm: RpcClient<ResourceManagerApp>;
  /** One client per TaskManager that gave this job slots; forgotten when it is lost. */
  readonly #taskManagers = new Map<string, RpcClient<TaskManagerTaskApp>>();

  constructor(options: JobManagerEffectsOptions) {
    this.#o = options;
    this.#rm = createClient<ResourceManagerApp>(
      options.transportFor(options.rmSubject),
      options.rpc,
    );
  }

  #taskManager(subject: string): RpcClient<TaskManagerTaskApp> {
    let client = this.#taskManagers.get(subject);
    if (!client) {
      client = createClient<TaskManagerTaskApp>(this.#o.transportFor(subject), this.#o.rpc);
      this.#taskManagers.set(subject, client);
    }
    return client;
  }

  /** Replaces what the job asked of the ResourceManager (Flink's `declareRequiredResources`). */
  async declare(requirements: ResourceRequirement[]): Promise<void> {
    const { jobId, subject } = this.#o;
    await unwrap(
      this.#rm.jobs[":jobId"].requirements.$put({
        param: { jobId },
        json: { jmSubject: subject, requirements },
      }),
    );
  }

  /** The job needs nothing any more; an RM that forgot it already is no failure. */
  async clearRequirements(): Promise<void> {
    await unwrap(this.#rm.jobs[":jobId"].$delete({ param: { jobId: this.#o.jobId } })).catch(
      (err: Error) => this.#o.log.debug({ err: err.message }, "clearing requirements failed"),
    );
  }

  /**
   * The ResourceManager's record of an allocation (what an offered slot is checked against):
   * undefined when it has none; rejects when the RM cannot be asked.
   */
  async allocation(allocationId: AllocationId): Promise<AllocationInfo | undefined> {
    try {
      return await unwrap(this.#rm.allocations[":allocationId"].$get({ param: { allocationId } }));
    } catch (err) {
      if (err instanceof FlotillaError && err.code === ErrorCode.NOT_FOUND) return undefined;
      throw err;
    }
  }

  /** Starts one subtask on the TaskManager holding its slot; rejects with the typed error. */
  async deploy(tmSubject: string, descriptor: TaskDescriptor): Promise<void> {
    await unwrap(this.#taskManager(tmSubject).tasks.$post({ json: descriptor }));
  }

  async triggerCheckpoint(
    tmSubject: string,
    checkpointId: number,
    attempt: number,
    final: boolean,
  ): Promise<void> {
    await unwrap(
      this.#taskManager(tmSubject).jobs[":jobId"].checkpoints[":checkpointId"].trigger.$post({
        param: { jobId: this.#o.jobId, checkpointId: String(checkpointId) },
        json: { attempt, final },
      }),
    );
  }

  /** Tells a TaskManager's tasks that a checkpoint completed (its sinks commit). */
  async confirmCheckpoint(tmSubject: string, checkpointId: number): Promise<void> {
    await unwrap(
      this.#taskManager(tmSubject).jobs[":jobId"].checkpoints[":checkpointId"].complete.$post({
        param: { jobId: this.#o.jobId, checkpointId: String(checkpointId) },
      }),
    );
  }

  /**
   * Cancels the job's tasks of `attempt` (and older) on one TaskManager. A TaskManager that does
   * not answer is no failure: its tasks' reports, or the cancellation timeout, settle the attempt.
   */
  async cancelTasks(tmSubject: string, attempt: number): Promise<void> {
    await unwrap(
      this.#taskManager(tmSubject).jobs[":jobId"].cancel.$post({
        param: { jobId: this.#o.jobId },
        json: { attempt },
      }),
    ).catch((err: Error) =>
      this.#o.log.debug({ err: err.message, tm: tmSubject }, "cancel not delivered"),
    );
  }

  /** Gives a slot back to its TaskManager; one that is gone has freed it already. */
  async freeSlot(slot: PooledSlot): Promise<void> {
    await unwrap(
      this.#taskManager(slot.tmSubject).slots[":slotId"].free.$post({
        param: { slotId: slot.slotId },
        json: { allocationId: slot.allocationId },
      }),
    ).catch((err: Error) =>
      this.#o.log.debug({ err: err.message, slot: slot.slotId }, "freeing a slot failed"),
    );
  }

  /** A TaskManager is gone: its client goes too (a new one with the same subject gets a new one). */
  forget(tmSubject: string): void {
    this.#taskManagers.delete(tmSubject);
  }
}
