/** Requirement arithmetic: merging a declaration, and what a job still lacks given its slots. */
import { biggestFirst } from "./matching.ts";
import { fits, profileKey } from "./profile.ts";
import type { ResourceProfile, ResourceRequirement } from "./types.ts";

/** Same profiles merged, zero counts dropped. */
export function normalize(requirements: ResourceRequirement[]): ResourceRequirement[] {
  const byKey = new Map<string, ResourceRequirement>();
  for (const { profile, count } of requirements) {
    const known = byKey.get(profileKey(profile));
    if (known) known.count += count;
    else byKey.set(profileKey(profile), { profile, count });
  }
  return [...byKey.values()].filter((r) => r.count > 0);
}

export interface HeldSlot {
  profile: ResourceProfile;
  /** The requirement profile it was allocated for, when the RM allocated it. */
  requested?: ResourceProfile | undefined;
}

/**
 * Requirements minus the slots a job holds. A slot counts for the requirement it was allocated
 * for; a slot learned from a report counts for the biggest requirement it fits.
 */
export function missingFor(
  requirements: ResourceRequirement[],
  held: HeldSlot[],
): ResourceRequirement[] {
  const remaining = biggestFirst(requirements).map((r) => ({ ...r }));
  const unmatched: HeldSlot[] = [];
  for (const slot of held) {
    const key = slot.requested && profileKey(slot.requested);
    const r = key ? remaining.find((r) => r.count > 0 && profileKey(r.profile) === key) : undefined;
    if (r) r.count--;
    else unmatched.push(slot);
  }
  for (const slot of unmatched) {
    const r = remaining.find((r) => r.count > 0 && fits(r.profile, slot.profile));
    if (r) r.count--;
  }
  return remaining.filter((r) => r.count > 0);
}
