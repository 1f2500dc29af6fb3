/**
 * Checks a slot offer against the ResourceManager before the JobManager takes a new slot: every
 * TaskManager connects as the same NATS user, so anyone who may publish on the JobManager's subject
 * could offer the slots of a TaskManager that does not exist and have the job's tasks (their
 * args and data) deployed to it. Only an allocation the RM made for this job vouches for a slot.
 */
import { type AllocationId, ensureError, type JobId, type Logger } from "../core/mod.ts";
import type { AllocationInfo, SlotOffer } from "../protocol/mod.ts";

export type OfferedSlot = SlotOffer["slots"][number];

export interface OfferCheckOptions {
  jobId: JobId;
  /** The RM's record of an allocation: undefined when it has none; rejects when unreachable. */
  allocation(allocationId: AllocationId): Promise<AllocationInfo | undefined>;
  log: Logger;
}

/** How many refused allocations one warning names (an offer holds up to 1024 slots). */
const NAMED_IN_A_WARNING = 8;

/** Why the RM's record does not vouch for `slot` as offered; undefined when it does. */
function mismatch(
  offer: SlotOffer,
  slot: OfferedSlot,
  jobId: JobId,
  known: AllocationInfo | undefined,
): string | undefined {
  if (!known) return "is unknown to the ResourceManager";
  if (known.jobId !== jobId) return `was allocated to job ${known.jobId}`;
  if (known.tmId !== offer.tmId) return `was allocated on TaskManager ${known.tmId}`;
  if (known.slotId !== slot.slotId) return `was allocated for slot ${known.slotId}`;
  if (known.tmSubject !== offer.tmSubject)
    return `belongs to a TaskManager answering on ${known.tmSubject}, not ${offer.tmSubject}`;
  return undefined;
}

/**
 * Which of `candidates` (new slots of `offer`) the RM allocated to this job on the offering
 * TaskManager and slot, asked in parallel. The others are refused with one warning per offer;
 * when the RM cannot be asked none is confirmed: the TaskManager frees what the JobManager does
 * not accept, and the RM allocates again.
 */
export async function confirmedSlots(
  offer: SlotOffer,
  candidates: readonly OfferedSlot[],
  { jobId, allocation, log }: OfferCheckOptions,
): Promise<Set<OfferedSlot>> {
  const verdicts = await Promise.all(
    candidates.map(async (slot) => {
      try {
        return { slot, why: mismatch(offer, slot, jobId, await allocation(slot.allocationId)) };
      } catch (err) {
        const why = `could not be checked: the ResourceManager did not answer (${ensureError(err).message})`;
        return { slot, why };
      }
    }),
  );
  const refused = verdicts.filter((v) => v.why !== undefined);
  if (refused.length > 0) {
    const [first] = refused;
    const more = refused.length > 1 ? ` (and ${refused.length - 1} more)` : "";
    log.warn(
      {
        tm: offer.tmId,
        tmSubject: offer.tmSubject,
        refused: refused.length,
        allocations: refused
          .slice(0, NAMED_IN_A_WARNING)
          .map((v) => ({ allocationId: v.slot.allocationId, slotId: v.slot.slotId, why: v.why })),
      },
      `slot offer of TaskManager ${offer.tmId} refused: allocation ${first!.slot.allocationId} ${first!.why}${more}`,
    );
  }
  return new Set(verdicts.filter((v) => v.why === undefined).map((v) => v.slot));
}
