/**
 * The matching strategy: where one slot of a given profile goes in a pool of free resources.
 * Fixed free slots first (the smallest that fits), then a slot carved out of a fine-grained
 * TaskManager's remaining resources (the tightest that fits). Pure; used both for real
 * allocations and to ask "could the whole cluster ever serve this job?".
 */
import type { SlotId, TaskManagerId } from "../core/mod.ts";
import { compareProfiles, covers, fits, isAny, subtract } from "./profile.ts";
import type { ResourceProfile, ResourceRequirement } from "./types.ts";

export interface FreeSlot {
  tmId: TaskManagerId;
  slotId: SlotId;
  profile: ResourceProfile;
  /** Registration order of its TaskManager, then slot index: a stable tie-break. */
  order: number;
}

export interface DynamicPool {
  tmId: TaskManagerId;
  remaining: ResourceProfile;
  /** What an ANY requirement is carved as. */
  defaultSlotProfile: ResourceProfile;
  order: number;
}

export interface Pool {
  fixed: FreeSlot[];
  dynamic: DynamicPool[];
}

export type Placement =
  | { kind: "fixed"; slot: FreeSlot }
  | { kind: "dynamic"; tmId: TaskManagerId; profile: ResourceProfile };

/** Takes a place for one slot of `required` out of `pool` (which it changes), or undefined. */
export function place(pool: Pool, required: ResourceProfile): Placement | undefined {
  let best: FreeSlot | undefined;
  for (const slot of pool.fixed) {
    if (!fits(required, slot.profile)) continue;
    const order = best
      ? compareProfiles(slot.profile, best.profile) || slot.order - best.order
      : -1;
    if (order < 0) best = slot;
  }
  if (best) {
    pool.fixed.splice(pool.fixed.indexOf(best), 1);
    return { kind: "fixed", slot: best };
  }
  let tightest: DynamicPool | undefined;
  let carve: ResourceProfile | undefined;
  for (const tm of pool.dynamic) {
    const wanted = isAny(required) ? tm.defaultSlotProfile : required;
    if (isAny(wanted) || !covers(tm.remaining, wanted)) continue;
    const order = tightest
      ? compareProfiles(tm.remaining, tightest.remaining) || tm.order - tightest.order
      : -1;
    if (order < 0) [tightest, carve] = [tm, wanted];
  }
  if (!tightest || !carve) return undefined;
  tightest.remaining = subtract(tightest.remaining, carve);
  return { kind: "dynamic", tmId: tightest.tmId, profile: carve };
}

/** Biggest first, so a big requirement is not starved by small ones taking the big slots. */
export function biggestFirst(requirements: ResourceRequirement[]): ResourceRequirement[] {
  return [...requirements].sort((a, b) => compareProfiles(b.profile, a.profile));
}

/** What of `requirements` does not fit into `pool` (which it uses up). */
export function shortfall(pool: Pool, requirements: ResourceRequirement[]): ResourceRequirement[] {
  const missing: ResourceRequirement[] = [];
  for (const { profile, count } of biggestFirst(requirements)) {
    let short = 0;
    // Once one slot finds no place no later one does: work bounded by what is placed.
    for (let i = 0; i < count; i++) {
      if (place(pool, profile)) continue;
      short = count - i;
      break;
    }
    if (short > 0) missing.push({ profile, count: short });
  }
  return missing;
}
