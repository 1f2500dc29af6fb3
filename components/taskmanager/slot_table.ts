/**
 * A TaskManager's slots and their life cycle (no I/O): free -> allocated (the RM picked it for a
 * job) -> active (the job's JobManager accepted the offer) -> free again when released.
 * Allocation is idempotent per allocation id, so a retried RM call does no harm.
 */
import {
  type AllocationId,
  ErrorCode,
  FlotillaError,
  type JobId,
  NotFoundError,
  type SlotId,
  slotId,
  type TaskManagerId,
} from "../core/mod.ts";
import { type ResourceProfile, type SlotReport, SlotState } from "../protocol/mod.ts";

/** A slot held for a job: its allocation is known. */
export type HeldSlot = SlotReport & { jobId: JobId; allocationId: AllocationId };

const held = (slot: SlotReport): slot is HeldSlot =>
  slot.jobId !== undefined && slot.allocationId !== undefined;

export class SlotTable {
  readonly #tmId: TaskManagerId;
  readonly #slots: SlotReport[];

  constructor(tmId: TaskManagerId, profiles: ResourceProfile[]) {
    this.#tmId = tmId;
    this.#slots = profiles.map((profile, index) => ({
      slotId: slotId(tmId, index),
      index,
      profile,
      state: SlotState.FREE,
    }));
  }

  /** The complete slot table, as copies: what the RM's heartbeat and registration get. */
  reports(): SlotReport[] {
    return this.#slots.map((s) => ({ ...s }));
  }

  /** The slot, or a NOT_FOUND naming this TaskManager's slots. */
  get(id: SlotId): SlotReport {
    const slot = this.#slots.find((s) => s.slotId === id);
    if (!slot) {
      throw new NotFoundError(
        ErrorCode.NOT_FOUND,
        `no slot ${id} on TaskManager ${this.#tmId} (its slots: ${this.#slots.map((s) => s.slotId).join(", ") || "none"})`,
      );
    }
    return slot;
  }

  /**
   * Gives a free slot to a job's allocation. `fresh` is false for a repeated call of the same
   * allocation (the slot is already on its way to the JobManager, or there).
   */
  allocate(
    id: SlotId,
    jobId: JobId,
    allocationId: AllocationId,
  ): { slot: HeldSlot; fresh: boolean } {
    const slot = this.get(id);
    if (held(slot) && slot.allocationId === allocationId && slot.jobId === jobId)
      return { slot: { ...slot }, fresh: false };
    if (slot.state !== SlotState.FREE) {
      throw new FlotillaError(
        ErrorCode.CONFLICT,
        `slot ${id} is ${slot.state} for job ${slot.jobId} (allocation ${slot.allocationId}), not free`,
      );
    }
    Object.assign(slot, { state: SlotState.ALLOCATED, jobId, allocationId });
    return { slot: { ...(slot as HeldSlot) }, fresh: true };
  }

  /** The JobManager accepted the slot; false when the allocation no longer holds it. */
  activate(id: SlotId, allocationId: AllocationId): boolean {
    const slot = this.get(id);
    if (slot.allocationId !== allocationId) return false;
    slot.state = SlotState.ACTIVE;
    return true;
  }

  /** Whether the slot is still held by this allocation. */
  holds(id: SlotId, allocationId: AllocationId): boolean {
    return this.get(id).allocationId === allocationId;
  }

  /** The slot an allocation of the job holds, or a CONFLICT naming what is wrong. */
  byAllocation(allocationId: AllocationId, jobId: JobId): HeldSlot {
    const slot = this.#slots.find((s) => s.allocationId === allocationId);
    if (!slot || !held(slot) || slot.jobId !== jobId) {
      throw new FlotillaError(
        ErrorCode.CONFLICT,
        `allocation ${allocationId} of job ${jobId} holds no slot on TaskManager ${this.#tmId} (freed, or never allocated here)`,
      );
    }
    return slot;
  }

  /** Frees the slot (only if `allocationId`, when given, still holds it); false if it did not. */
  free(id: SlotId, allocationId?: AllocationId): boolean {
    const slot = this.get(id);
    if (allocationId !== undefined && slot.allocationId !== allocationId) return false;
    slot.state = SlotState.FREE;
    delete slot.jobId;
    delete slot.allocationId;
    return true;
  }

  /** The slots a job holds, active or on their way to its JobManager. */
  heldBy(jobId: JobId): HeldSlot[] {
    return this.#slots
      .filter((s): s is HeldSlot => held(s) && s.jobId === jobId)
      .map((s) => ({
        ...s,
      }));
  }

  /** The job's slots its JobManager accepted. */
  activeOf(jobId: JobId): HeldSlot[] {
    return this.heldBy(jobId).filter((s) => s.state === SlotState.ACTIVE);
  }

  /** The jobs holding a slot here. */
  jobs(): JobId[] {
    return [...new Set(this.#slots.flatMap((s) => (s.jobId ? [s.jobId] : [])))];
  }
}
