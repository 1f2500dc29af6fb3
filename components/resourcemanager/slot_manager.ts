/**
 * The SlotManager: the RM's bookkeeping, with no I/O. It knows every TaskManager and slot and
 * every job's declared requirements, and turns each event (registration, heartbeat report,
 * declaration, loss, clock tick) into the actions the ResourceManager carries out.
 */
import type { AllocationId, JobId, SlotId, TaskManagerId } from "../core/mod.ts";
import { biggestFirst, type Placement, type Pool, place, shortfall } from "./matching.ts";
import { PendingTaskManagers } from "./pending_task_managers.ts";
import { fits, sum } from "./profile.ts";
import { missingFor, normalize } from "./requirements.ts";
import {
  addToPool,
  allocateSlot,
  applyReport,
  freeSlot,
  holds,
  infoOf,
  inUse,
  learnSlot,
  newTaskManagerEntry,
  type SlotEntry,
  type TaskManagerEntry,
  updateIdle,
} from "./task_manager_entry.ts";
import type {
  AffectedJob,
  AllocationInfo,
  JobRequirementsInfo,
  ResourceOverview,
  ResourceProfile,
  ResourceRequirement,
  SlotManagerAction,
  SlotReport,
  TaskManagerInfo,
  TaskManagerRegistration,
} from "./types.ts";

export interface SlotManagerOptions {
  /** `resourcemanager.taskmanager-timeout`: idle time before a TM is released. @default 30000 */
  idleTimeoutMs?: number;
  /** How long a TaskManager asked of the driver may take to register. @default 300000 */
  pendingTaskManagerTimeoutMs?: number;
  /** Whether a driver could start a TaskManager for a profile. @default never */
  canStartTaskManager?: (profile: ResourceProfile) => boolean;
  /** Most TaskManagers asked of the driver and not registered yet. @default 64 */
  maxPendingTaskManagers?: number;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
}

interface JobEntry {
  jobId: JobId;
  jmSubject: string;
  requirements: ResourceRequirement[];
  /** The last unfulfillable report sent, so it is sent once per change. */
  reported: string | undefined;
}

export class SlotManager {
  readonly #tms = new Map<TaskManagerId, TaskManagerEntry>();
  readonly #jobs = new Map<JobId, JobEntry>();
  readonly #pendingTms: PendingTaskManagers;
  #order = 0;
  readonly #idleTimeoutMs: number;
  readonly #canStart: (profile: ResourceProfile) => boolean;
  readonly #maxPendingTms: number;
  readonly #now: () => number;

  constructor({
    idleTimeoutMs = 30_000,
    pendingTaskManagerTimeoutMs = 300_000,
    canStartTaskManager = () => false,
    maxPendingTaskManagers = 64,
    now = Date.now,
  }: SlotManagerOptions = {}) {
    this.#maxPendingTms = maxPendingTaskManagers;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#pendingTms = new PendingTaskManagers(pendingTaskManagerTimeoutMs, now);
    this.#canStart = canStartTaskManager;
    this.#now = now;
  }

  // ---- events -------------------------------------------------------------------------------

  /** A TaskManager registers (again): its slots become known and requirements are re-matched. */
  registerTaskManager(reg: TaskManagerRegistration): SlotManagerAction[] {
    const actions: SlotManagerAction[] = [];
    const previous = this.#tms.get(reg.tmId);
    if (previous) {
      // A re-registration replaces the old state: allocations it no longer reports are gone.
      const kept = new Set(reg.slots.map((s) => s.allocationId).filter(Boolean));
      const lost = [...previous.slots.values()].filter(
        (s) => s.jobId && inUse(s) && !kept.has(s.allocationId),
      );
      if (lost.length > 0) {
        const reason = `TaskManager ${reg.tmId} registered again without its earlier slots`;
        actions.push({ kind: "tm-lost", tmId: reg.tmId, reason, jobs: this.#affected(lost) });
      }
    }
    const tm = newTaskManagerEntry(reg, previous?.order ?? this.#order++, this.#now());
    this.#tms.set(reg.tmId, tm);
    for (const report of reg.slots) learnSlot(tm, report, this.#jmSubjectOf);
    this.#consumePending(tm);
    updateIdle(tm, this.#now());
    actions.push(...this.#check());
    return actions;
  }

  /** A TaskManager is gone (lost, unregistered or released); undefined when unknown. */
  unregisterTaskManager(tmId: TaskManagerId, reason: string): SlotManagerAction[] | undefined {
    const tm = this.#tms.get(tmId);
    if (!tm) return undefined;
    this.#tms.delete(tmId);
    const held = [...tm.slots.values()].filter((s) => s.jobId && inUse(s));
    return [{ kind: "tm-lost", tmId, reason, jobs: this.#affected(held) }, ...this.#check()];
  }

  /**
   * A TaskManager's complete slot table, from a heartbeat. Its word wins over the RM's, except
   * for a slot the RM allocated and the TM has not confirmed yet (the report may predate the
   * allocate call). Undefined when the TaskManager is unknown (it must register again).
   */
  reportSlots(tmId: TaskManagerId, reports: SlotReport[]): SlotManagerAction[] | undefined {
    const tm = this.#tms.get(tmId);
    if (!tm) return undefined;
    const seen = new Set<SlotId>();
    for (const report of reports) {
      seen.add(report.slotId);
      applyReport(tm, report, this.#jmSubjectOf);
    }
    for (const slot of [...tm.slots.values()]) {
      if (!seen.has(slot.slotId) && !slot.pending) tm.slots.delete(slot.slotId);
    }
    updateIdle(tm, this.#now());
    return this.#check();
  }

  /** A job's requirements, replacing what it declared before. */
  declareRequirements(
    jobId: JobId,
    jmSubject: string,
    requirements: ResourceRequirement[],
  ): SlotManagerAction[] {
    const job = this.#jobs.get(jobId);
    const normalized = normalize(requirements);
    if (job) Object.assign(job, { jmSubject, requirements: normalized, reported: undefined });
    else this.#jobs.set(jobId, { jobId, jmSubject, requirements: normalized, reported: undefined });
    for (const slot of this.#slots()) if (slot.jobId === jobId) slot.jmSubject = jmSubject;
    return this.#check();
  }

  /** The job ended: forget its requirements (its slots come back free through reports). */
  clearRequirements(jobId: JobId): boolean {
    return this.#jobs.delete(jobId);
  }

  allocationConfirmed(allocationId: AllocationId): void {
    const found = this.#findAllocation(allocationId);
    if (found) found.slot.pending = false;
  }

  /** The TaskManager refused or never answered: the slot waits for its next report. */
  allocationFailed(allocationId: AllocationId): SlotManagerAction[] {
    const found = this.#findAllocation(allocationId);
    if (!found?.slot.pending) return [];
    freeSlot(found.slot);
    found.slot.quarantined = true;
    return this.#check();
  }

  /** The driver could not start a TaskManager: forget one request so a later check retries. */
  taskManagerRequestFailed(requested: ResourceProfile): void {
    this.#pendingTms.failed(requested);
  }

  /** The driver started one: requests for its profile go at once again. */
  taskManagerRequestSucceeded(requested: ResourceProfile): void {
    this.#pendingTms.succeeded(requested);
  }

  /** The driver would not release it (not one it started): keep it until busy and idle again. */
  releaseDeclined(tmId: TaskManagerId): void {
    const tm = this.#tms.get(tmId);
    if (tm) Object.assign(tm, { releasing: false, kept: true });
  }

  /**
   * The clock: TaskManagers idle for the timeout are handed for release, driver requests that
   * never registered expire, and requirements are matched again.
   */
  checkTimeouts(): SlotManagerAction[] {
    const now = this.#now();
    const actions: SlotManagerAction[] = [];
    this.#pendingTms.expire();
    for (const tm of this.#tms.values()) {
      if (tm.releasing || tm.kept || tm.idleSince === undefined) continue;
      if (now - tm.idleSince < this.#idleTimeoutMs) continue;
      tm.releasing = true;
      actions.push({ kind: "release-tm", tmId: tm.tmId });
    }
    actions.push(...this.#check());
    return actions;
  }

  // ---- queries ------------------------------------------------------------------------------

  hasTaskManager(tmId: TaskManagerId): boolean {
    return this.#tms.has(tmId);
  }

  taskManager(tmId: TaskManagerId): TaskManagerInfo | undefined {
    const tm = this.#tms.get(tmId);
    return tm && infoOf(tm);
  }

  taskManagers(): TaskManagerInfo[] {
    return [...this.#tms.values()].map(infoOf);
  }

  /**
   * The slot allocated with `allocationId` and what it is for. The allocation is recorded when
   * it is made, before the TaskManager is called, so the TaskManager's first offer finds it.
   */
  allocation(allocationId: AllocationId): AllocationInfo | undefined {
    const found = this.#findAllocation(allocationId);
    if (!found?.slot.jobId || !holds(found.slot, found.slot.jobId)) return undefined;
    const { tm, slot } = found;
    return {
      allocationId,
      jobId: slot.jobId!,
      tmId: tm.tmId,
      slotId: slot.slotId,
      tmSubject: tm.registration.subject,
      pending: slot.pending,
    };
  }

  hasJob(jobId: JobId): boolean {
    return this.#jobs.has(jobId);
  }

  jobs(): JobRequirementsInfo[] {
    return [...this.#jobs.values()].map((job) => ({
      jobId: job.jobId,
      jmSubject: job.jmSubject,
      requirements: job.requirements.map((r) => ({ ...r })),
      missing: this.#missing(job),
    }));
  }

  overview(): ResourceOverview {
    const infos = this.taskManagers();
    const slots = infos.flatMap((tm) => tm.slots);
    return {
      taskmanagers: infos.length,
      slotsTotal: slots.length,
      slotsFree: this.#slots().filter((s) => !inUse(s)).length,
      pendingRequirements: this.jobs().reduce(
        (n, job) => n + job.missing.reduce((m, r) => m + r.count, 0),
        0,
      ),
      pendingTaskManagers: this.#pendingTms.count,
      jobs: this.#jobs.size,
      totalResources: sum(infos.map((tm) => tm.totalResources)),
      freeResources: sum(infos.map((tm) => tm.freeResources)),
    };
  }

  // ---- internals ----------------------------------------------------------------------------

  /** Matches missing slots to free resources, then the driver; work bounded by what is placed. */
  #check(): SlotManagerAction[] {
    const actions: SlotManagerAction[] = [];
    const pool = this.#freePool();
    const pending = this.#pendingTms.profiles();
    for (const job of this.#jobs.values()) {
      let waiting = false;
      for (const { profile: wanted, count } of biggestFirst(this.#missing(job))) {
        let short = 0;
        for (let i = 0; i < count; i++) {
          const placement = place(pool, wanted);
          if (!placement) {
            short = count - i;
            break;
          }
          actions.push(this.#allocate(job, placement, wanted));
        }
        for (let i = 0; i < pending.length && short > 0; ) {
          if (fits(wanted, pending[i]!)) {
            pending.splice(i, 1);
            short--;
          } else i++;
        }
        if (short > 0 && this.#canStart(wanted) && this.#pendingTms.mayRequest(wanted)) {
          const room = this.#maxPendingTms - this.#pendingTms.count;
          for (let asked = 0; short > 0 && asked < room; short--, asked++) {
            this.#pendingTms.requested(wanted);
            actions.push({ kind: "request-tm", profile: wanted });
          }
        }
        if (short > 0) waiting = true;
      }
      const missing = waiting
        ? shortfall(this.#capacityPool(), job.requirements).filter(
            (r) => !this.#canStart(r.profile),
          )
        : [];
      const key = missing.length > 0 ? JSON.stringify(missing) : undefined;
      if (key && key !== job.reported) {
        actions.push({
          kind: "unfulfillable",
          jobId: job.jobId,
          jmSubject: job.jmSubject,
          missing,
        });
      }
      job.reported = key;
    }
    return actions;
  }

  #allocate(job: JobEntry, placement: Placement, requested: ResourceProfile): SlotManagerAction {
    const tmId = placement.kind === "fixed" ? placement.slot.tmId : placement.tmId;
    const tm = this.#tms.get(tmId)!;
    const { jobId, jmSubject } = job;
    const slot = allocateSlot(tm, placement, { jobId, jmSubject, requested }, this.#now());
    return {
      kind: "allocate",
      tmId,
      subject: tm.registration.subject,
      slotId: slot.slotId,
      jobId: job.jobId,
      allocationId: slot.allocationId!,
      profile: slot.profile,
      jmSubject: job.jmSubject,
    };
  }

  /** Requirements minus the slots the job holds. */
  #missing(job: JobEntry): ResourceRequirement[] {
    return missingFor(
      job.requirements,
      this.#slots().filter((s) => holds(s, job.jobId)),
    );
  }

  /** What can be allocated now. */
  #freePool(): Pool {
    const pool: Pool = { fixed: [], dynamic: [] };
    for (const tm of this.#tms.values()) if (!tm.releasing) addToPool(pool, tm);
    return pool;
  }

  /** Everything registered or asked of the driver, as if no job held anything. */
  #capacityPool(): Pool {
    const pool: Pool = { fixed: [], dynamic: [] };
    for (const tm of this.#tms.values()) if (!tm.releasing) addToPool(pool, tm, true);
    for (const profile of this.#pendingTms.profiles()) {
      const unknown = "pending" as TaskManagerId;
      pool.fixed.push({ tmId: unknown, slotId: "pending" as SlotId, profile, order: 0 });
    }
    return pool;
  }

  /** A newly registered TaskManager answers the oldest driver requests it can serve. */
  #consumePending(tm: TaskManagerEntry): void {
    const pool: Pool = { fixed: [], dynamic: [] };
    addToPool(pool, tm, true);
    this.#pendingTms.answeredBy((profile) => place(pool, profile) !== undefined);
  }

  readonly #jmSubjectOf = (jobId: JobId): string | undefined => this.#jobs.get(jobId)?.jmSubject;

  #affected(slots: SlotEntry[]): AffectedJob[] {
    const jobs = new Map<JobId, AffectedJob>();
    for (const s of slots) {
      if (!s.jobId || jobs.has(s.jobId)) continue;
      jobs.set(s.jobId, {
        jobId: s.jobId,
        jmSubject: s.jmSubject ?? this.#jmSubjectOf(s.jobId),
      });
    }
    return [...jobs.values()];
  }

  #slots(): SlotEntry[] {
    return [...this.#tms.values()].flatMap((tm) => [...tm.slots.values()]);
  }

  #findAllocation(
    allocationId: AllocationId,
  ): { tm: TaskManagerEntry; slot: SlotEntry } | undefined {
    for (const tm of this.#tms.values()) {
      for (const slot of tm.slots.values()) {
        if (slot.allocationId === allocationId) return { tm, slot };
      }
    }
    return undefined;
  }
}
