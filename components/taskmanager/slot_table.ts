/**
 * A TaskManager's slots and their life cycle: free -> allocated (the RM picked it for a job) ->
 * active (the job's JobManager accepted the offer) -> free again when released. Allocation is
 * idempotent per allocation id, so a retried RM call does no harm.
 */
import { ErrorCode, FlotillaError } from "../core/mod.ts";
import { type SlotReport, SlotState } from "./types.ts";

type Profile = SlotReport["profile"];

export class SlotTable {
  readonly #slots: SlotReport[];

  constructor(tmId: string, profiles: Profile[]) {
    this.#slots = profiles.map((profile, index) => ({
      slotId: `${tmId}_${index}`,
      index,
      profile,
      state: SlotState.FREE,
    }));
  }

  reports(): SlotReport[] {
    return this.#slots.map((s) => ({ ...s }));
  }

  get(slotId: string): SlotReport {
    const slot = this.#slots.find((s) => s.slotId === slotId);
    if (!slot)
      throw new FlotillaError(ErrorCode.NOT_FOUND, `no slot ${slotId} on this TaskManager`);
    return slot;
  }

  allocate(slotId: string, jobId: string, allocationId: string): SlotReport {
    const slot = this.get(slotId);
    if (slot.allocationId === allocationId && slot.jobId === jobId) return slot;
    if (slot.state !== SlotState.FREE) {
      throw new FlotillaError(
        ErrorCode.CONFLICT,
        `slot ${slotId} is ${slot.state} for job ${slot.jobId}, not free`,
      );
    }
    Object.assign(slot, { state: SlotState.ALLOCATED, jobId, allocationId });
    return slot;
  }

  activate(slotId: string, allocationId: string): void {
    const slot = this.get(slotId);
    if (slot.allocationId === allocationId) slot.state = SlotState.ACTIVE;
  }

  /** The active (or allocated) slot of an allocation, or a CONFLICT naming what is wrong. */
  byAllocation(allocationId: string, jobId: string): SlotReport {
    const slot = this.#slots.find((s) => s.allocationId === allocationId);
    if (!slot || slot.jobId !== jobId || slot.state === SlotState.FREE) {
      throw new FlotillaError(
        ErrorCode.CONFLICT,
        `allocation ${allocationId} of job ${jobId} holds no slot on this TaskManager`,
      );
    }
    return slot;
  }

  free(slotId: string, allocationId?: string): boolean {
    const slot = this.get(slotId);
    if (allocationId !== undefined && slot.allocationId !== allocationId) return false;
    slot.state = SlotState.FREE;
    delete slot.jobId;
    delete slot.allocationId;
    return true;
  }

  /** Frees every slot of a job; returns the ids. */
  freeJob(jobId: string): string[] {
    const ids = this.#slots.filter((s) => s.jobId === jobId).map((s) => s.slotId);
    for (const id of ids) this.free(id);
    return ids;
  }

  jobs(): string[] {
    return [...new Set(this.#slots.flatMap((s) => (s.jobId ? [s.jobId] : [])))];
  }
}
