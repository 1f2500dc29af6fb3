/**
 * The JobManager's slot pool: which offered slots it holds, for which slot-sharing group, and the
 * assignment of subtasks to them (subtask i of every vertex of a group shares the group's slot i,
 * as Flink's slot sharing).
 */
import type { AllocationId, SlotId, TaskManagerId } from "../core/mod.ts";
import type { JobTopology, SlotSharingGroupSpec } from "../dataflow/internal_mod.ts";
import type { ResourceProfile, ResourceRequirement } from "../protocol/mod.ts";

export interface PooledSlot {
  slotId: SlotId;
  allocationId: AllocationId;
  tmId: TaskManagerId;
  tmSubject: string;
  profile: ResourceProfile;
  group: string;
}

/** An offered slot serves a group when it offers at least what the group asks for. */
export function covers(offered: ResourceProfile, wanted: ResourceProfile): boolean {
  if (offered.cpu < wanted.cpu || offered.memoryMb < wanted.memoryMb) return false;
  for (const [k, v] of Object.entries(wanted.extended))
    if ((offered.extended[k] ?? 0) < v) return false;
  return true;
}

export class SlotPool {
  #groups: SlotSharingGroupSpec[];
  readonly #slots = new Map<SlotId, PooledSlot>();

  constructor(graph: JobTopology) {
    this.#groups = graph.slotSharingGroups;
  }

  /** How many slots each group wants from now on (the adaptive scheduler's upper bound). */
  retarget(groups: SlotSharingGroupSpec[]): void {
    this.#groups = groups;
  }

  /**
   * Slots held beyond what their group wants, to give back: taken first from the TaskManagers
   * this job uses least, so whole TaskManagers become idle.
   */
  surplus(): PooledSlot[] {
    const perTm = new Map<TaskManagerId, number>();
    for (const s of this.#slots.values()) perTm.set(s.tmId, (perTm.get(s.tmId) ?? 0) + 1);
    return this.#groups.flatMap((g) => {
      const held = this.inGroup(g.name);
      const extra = held.length - g.slots;
      if (extra <= 0) return [];
      return held
        .sort((a, b) => perTm.get(a.tmId)! - perTm.get(b.tmId)! || b.slotId.localeCompare(a.slotId))
        .slice(0, extra);
    });
  }

  /** Whether the pool still holds this allocation (a slot is offered again after a loss). */
  holds(slot: { allocationId: AllocationId }): boolean {
    return this.all().some((s) => s.allocationId === slot.allocationId);
  }

  /** Forgets one slot (given back). */
  remove(slotId: SlotId): void {
    this.#slots.delete(slotId);
  }

  /** What is still missing, per group: the requirement to declare to the RM. */
  requirements(): ResourceRequirement[] {
    return this.#groups.map((g) => ({ profile: g.profile, count: g.slots }));
  }

  missing(): { group: string; count: number }[] {
    return this.#groups
      .map((g) => ({ group: g.name, count: g.slots - this.inGroup(g.name).length }))
      .filter((m) => m.count > 0);
  }

  complete(): boolean {
    return this.missing().length === 0;
  }

  /** Whether the pool holds this very slot and allocation (a re-offer is no new slot). */
  isPooled(slot: { slotId: SlotId; allocationId: AllocationId }): boolean {
    return this.#slots.get(slot.slotId)?.allocationId === slot.allocationId;
  }

  /**
   * Of `slots`, the new ones (their slot id not pooled, the first of a repeated one) that `offer`
   * would take now, in order: only those are worth checking before they are offered.
   */
  wanted<S extends { slotId: SlotId; profile: ResourceProfile }>(slots: readonly S[]): S[] {
    const room = new Map(this.#groups.map((g) => [g.name, g.slots - this.inGroup(g.name).length]));
    const seen = new Set<SlotId>();
    return slots.filter((slot) => {
      if (this.#slots.has(slot.slotId) || seen.has(slot.slotId)) return false;
      seen.add(slot.slotId);
      const group = this.#groups.find(
        (g) => room.get(g.name)! > 0 && covers(slot.profile, g.profile),
      );
      if (group) room.set(group.name, room.get(group.name)! - 1);
      return group !== undefined;
    });
  }

  /** Takes an offered slot if a group still needs one it fits; returns whether it was taken. */
  offer(slot: Omit<PooledSlot, "group">): boolean {
    if (this.#slots.has(slot.slotId))
      return this.#slots.get(slot.slotId)!.allocationId === slot.allocationId;
    for (const g of this.#groups) {
      if (this.inGroup(g.name).length < g.slots && covers(slot.profile, g.profile)) {
        this.#slots.set(slot.slotId, { ...slot, group: g.name });
        return true;
      }
    }
    return false;
  }

  inGroup(group: string): PooledSlot[] {
    return [...this.#slots.values()]
      .filter((s) => s.group === group)
      .sort((a, b) => a.slotId.localeCompare(b.slotId));
  }

  /** The slot subtask `subtask` of a vertex in `group` runs in. */
  slotFor(group: string, subtask: number): PooledSlot {
    const slot = this.inGroup(group)[subtask];
    if (!slot) throw new Error(`no slot ${subtask} in group ${group}`);
    return slot;
  }

  /** Drops a lost TaskManager's slots; returns them. */
  removeTaskManager(tmId: TaskManagerId): PooledSlot[] {
    const lost = [...this.#slots.values()].filter((s) => s.tmId === tmId);
    for (const s of lost) this.#slots.delete(s.slotId);
    return lost;
  }

  all(): PooledSlot[] {
    return [...this.#slots.values()];
  }

  clear(): PooledSlot[] {
    const all = this.all();
    this.#slots.clear();
    return all;
  }
}
