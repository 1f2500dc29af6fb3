/**
 * A TaskManager's side of FLIP-6 step 4 and of the JobManager heartbeat: an allocated slot is
 * offered to the job's JobManager; each heartbeat offers the job's active slots again to every
 * JobManager answering for the job, and frees the ones none of them holds; a JobManager silent
 * past the heartbeat timeout is lost.
 */
import {
  type AllocationId,
  type FlotillaError,
  type JobId,
  type Logger,
  type SlotId,
  type TaskManagerId,
  toFlotillaError,
} from "../core/mod.ts";
import type { JobManagerResourceApp, JobManagerTaskApp, SlotOffer } from "../protocol/mod.ts";
import {
  type CallDeadlines,
  callAll,
  createClient,
  HeartbeatMonitor,
  type RpcClient,
  type Transport,
  unwrap,
} from "../rpc/mod.ts";
import type { HeldSlot, SlotTable } from "./slot_table.ts";

export interface SlotOffersOptions {
  tmId: TaskManagerId;
  /** Where this TaskManager answers (JobManagers deploy there). */
  subject: string;
  slots: SlotTable;
  transportFor(subject: string): Transport;
  rpc: CallDeadlines;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  log: Logger;
  /** Cancels the allocation's subtasks and frees its slot; false when it moved on. */
  /**
   * Frees the slot; `promptly` false leaves telling the ResourceManager to the next heartbeat
   * (a slot the JobManager refused: told at once, the RM may allocate it to the job again at once,
   * and a JobManager that refuses it again makes that a loop without pause).
   */
  release(
    slotId: SlotId,
    allocationId: AllocationId,
    why: string,
    options?: { promptly?: boolean },
  ): Promise<boolean>;
  /** The job's JobManager is lost: its subtasks are canceled, its slots freed; how many. */
  jobManagerLost(jobId: JobId, reason: string): Promise<number>;
}

export class SlotOffers {
  readonly #o: SlotOffersOptions;
  /** Each job holding slots here, by its JobManager's subject. */
  readonly #jobManagers: HeartbeatMonitor<string>;
  #stopped = false;

  constructor(options: SlotOffersOptions) {
    this.#o = options;
    this.#jobManagers = new HeartbeatMonitor<string>({
      intervalMs: options.heartbeatIntervalMs,
      timeoutMs: options.heartbeatTimeoutMs,
      ping: (jobId, jmSubject) => this.#sync(jobId as JobId, jmSubject),
      onLost: (jobId, jmSubject, reason) => void this.#lost(jobId as JobId, jmSubject, reason),
    });
  }

  /**
   * Offers a freshly allocated slot to the job's JobManager until it answers or the heartbeat
   * timeout passes (then the JobManager counts as lost); a slot it does not accept is freed.
   */
  async offer(slot: HeldSlot, jmSubject: string): Promise<void> {
    const { slots, log, heartbeatTimeoutMs } = this.#o;
    const { slotId, allocationId, jobId } = slot;
    const deadline = performance.now() + heartbeatTimeoutMs;
    let why = `the JobManager at ${jmSubject} did not answer the offer within ${heartbeatTimeoutMs} ms`;
    for (let tries = 0; !this.#stopped && slots.holds(slotId, allocationId); tries++) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      try {
        const { accepted } = await unwrap(
          this.#jobManager(jmSubject, remaining).slots.offer.$post({
            json: this.#offerOf([slot]),
          }),
        );
        if (accepted.includes(slotId) && slots.activate(slotId, allocationId)) {
          this.#jobManagers.monitor(jobId, jmSubject);
          return;
        }
        why = `the JobManager at ${jmSubject} did not accept the slot`;
        break;
      } catch (err) {
        const error = toFlotillaError(err);
        why = `the offer to the JobManager at ${jmSubject} failed: ${error.message}`;
        if (!error.retryable) break;
      }
      await sleep(Math.min(100 * 2 ** tries, deadline - performance.now()));
    }
    if (!slots.holds(slotId, allocationId)) return;
    log.warn({ slot: slotId, job: jobId, allocation: allocationId }, `${why}: freeing the slot`);
    await this.#o.release(slotId, allocationId, why, { promptly: false });
  }

  /** The job holds no slot here any more: its JobManager is not watched. */
  forget(jobId: JobId): void {
    this.#jobManagers.unmonitor(jobId);
  }

  /** Jobs whose JobManager is watched. */
  watched(): JobId[] {
    return this.#jobManagers.ids() as JobId[];
  }

  stop(): void {
    this.#stopped = true;
    this.#jobManagers.stop();
    for (const id of this.#jobManagers.ids()) this.#jobManagers.unmonitor(id);
  }

  #offerOf(slots: HeldSlot[]): SlotOffer {
    return {
      tmId: this.#o.tmId,
      tmSubject: this.#o.subject,
      slots: slots.map(({ slotId, allocationId, profile }) => ({ slotId, allocationId, profile })),
    };
  }

  #jobManager(jmSubject: string, timeoutMs: number): RpcClient<JobManagerTaskApp> {
    const { rpc } = this.#o;
    return createClient<JobManagerTaskApp>(this.#o.transportFor(jmSubject), {
      timeoutMs: Math.min(rpc.timeoutMs, timeoutMs),
      attemptTimeoutMs: Math.min(rpc.attemptTimeoutMs, timeoutMs),
    });
  }

  /**
   * The heartbeat to a job's JobManager offers the job's active slots again, as Flink's
   * TaskExecutor offers its slots to every new JobMaster leader and frees the ones the JobMaster
   * does not hold (syncSlotsWithSnapshotFromJobMaster): a JobManager recovered after a failover
   * gets the slots back (its first deployment replaces their old tasks), and a slot that no
   * JobManager holds any more is freed with its tasks instead of staying allocated for good.
   *
   * While a JobManager is being replaced, the old one may still answer for the job (a deposed
   * leader that has not stopped yet); it does not hold the new JobManager's slots. So every
   * answer within the heartbeat interval counts, and a slot is freed only if none holds it.
   */
  async #sync(jobId: JobId, jmSubject: string): Promise<void> {
    const { slots, heartbeatIntervalMs, log } = this.#o;
    const active = slots.activeOf(jobId);
    if (active.length === 0) {
      await unwrap(this.#jobManager(jmSubject, heartbeatIntervalMs).heartbeat.$get());
      return;
    }
    const offer = this.#offerOf(active);
    const answers = await callAll(
      this.#o.transportFor(jmSubject),
      (jm: RpcClient<JobManagerTaskApp>) => jm.slots.offer.$post({ json: offer }),
      heartbeatIntervalMs,
    );
    const held = new Set<string>();
    let refusal: FlotillaError | undefined;
    for (const answer of answers) {
      if (answer.ok) for (const id of answer.body.accepted) held.add(id);
      else refusal ??= answer.error;
    }
    // Nobody took the offer (an UNAVAILABLE counts towards the JobManager's loss): no answer.
    if (refusal && answers.every((a) => !a.ok)) throw refusal;
    for (const slot of active) {
      if (held.has(slot.slotId)) continue;
      log.warn(
        { slot: slot.slotId, job: jobId, allocation: slot.allocationId },
        "no JobManager of the job holds this slot (any more): freeing it",
      );
      await this.#o.release(
        slot.slotId,
        slot.allocationId,
        "no JobManager of the job holds the slot",
      );
    }
  }

  async #lost(jobId: JobId, jmSubject: string, reason: string): Promise<void> {
    const { log, tmId, rpc } = this.#o;
    log.warn({ job: jobId, reason }, "JobManager lost: canceling its tasks and freeing its slots");
    const freed = await this.#o.jobManagerLost(jobId, `JobManager lost: ${reason}`);
    if (freed === 0) return;
    // If a JobManager of the job does answer after all (one that was taking over while this
    // TaskManager gave up), it must not keep counting on the freed slots: to it, this
    // TaskManager is gone (its next attempt asks the ResourceManager for slots again).
    const jm = createClient<JobManagerResourceApp>(this.#o.transportFor(jmSubject), rpc);
    await unwrap(
      jm.taskmanagers[":tmId"].lost.$post({
        param: { tmId },
        json: { reason: `TaskManager ${tmId} freed the job's slots: JobManager lost (${reason})` },
      }),
    ).catch((err: unknown) =>
      log.debug({ job: jobId, err: toFlotillaError(err).message }, "no JobManager took the notice"),
    );
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
