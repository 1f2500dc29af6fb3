/**
 * The adaptive scheduler's decisions, free of I/O (after Flink's AdaptiveScheduler, FLIP-160, and
 * reactive mode, FLIP-159): how many slots a parallelism needs under slot sharing, the largest
 * parallelism the slots at hand allow between the job's bounds, what to do about it, and when
 * (the stabilization window, on an injectable clock).
 */
import type { JobGraph } from "../dataflow/internal_mod.ts";
import type { Profile } from "./types.ts";

export interface SchedulerOptions {
  /** @default "default" (the job's own `scheduler` option wins) */
  type?: "default" | "adaptive";
  /** `reactive`: every job is adaptive and wants every slot, up to its maxParallelism. */
  mode?: "reactive" | "";
  /** How long to wait for more slots before acting on fewer than the upper bound. @default 2000 */
  stabilizationMs?: number;
  /** The default lower bound. @default 1 */
  minParallelism?: number;
}

export interface CompiledScheduler {
  type: "default" | "adaptive";
  reactive: boolean;
  stabilizationMs: number;
  minParallelism: number;
}

/** The cluster's scheduler settings plus the job's own choice: reactive mode wins, then the job. */
export function compileScheduler(
  {
    type = "default",
    mode = "",
    stabilizationMs = 2000,
    minParallelism = 1,
  }: SchedulerOptions = {},
  jobChoice?: "default" | "adaptive",
): CompiledScheduler {
  const reactive = mode === "reactive";
  return {
    type: reactive ? "adaptive" : (jobChoice ?? type),
    reactive,
    stabilizationMs,
    minParallelism,
  };
}

/** The scheduler settings from the compiled cluster config. */
export function schedulerOptionsFrom(config: {
  readonly "jobmanager.scheduler": "default" | "adaptive";
  readonly "jobmanager.scheduler-mode": "" | "reactive";
  readonly "jobmanager.adaptive-scheduler.resource-stabilization-timeout": number;
  readonly "jobmanager.adaptive-scheduler.min-parallelism": number;
}): SchedulerOptions {
  return {
    type: config["jobmanager.scheduler"],
    mode: config["jobmanager.scheduler-mode"],
    stabilizationMs: config["jobmanager.adaptive-scheduler.resource-stabilization-timeout"],
    minParallelism: config["jobmanager.adaptive-scheduler.min-parallelism"],
  };
}

/** One slot-sharing group: what its fixed vertices need whatever happens, and whether it scales. */
export interface GroupModel {
  name: string;
  profile: Profile;
  /** The largest parallelism among the group's fixed vertices (0: none). */
  fixed: number;
  /** Whether a vertex of the group follows the job's parallelism. */
  scales: boolean;
}

export function slotModel(graph: JobGraph): GroupModel[] {
  return graph.slotSharingGroups.map((g) => {
    const members = graph.vertices.filter((v) => v.slotSharingGroup === g.name);
    return {
      name: g.name,
      profile: g.profile,
      fixed: Math.max(0, ...members.filter((v) => v.fixedParallelism).map((v) => v.parallelism)),
      scales: members.some((v) => !v.fixedParallelism),
    };
  });
}

/** Slots per group at parallelism `p`: a group needs its largest vertex's parallelism. */
export function slotsAt(model: GroupModel[], p: number): { group: string; count: number }[] {
  return model.map((g) => ({ group: g.name, count: Math.max(g.fixed, g.scales ? p : 0) }));
}

export interface Bounds {
  lowerBound: number;
  upperBound: number;
}

/**
 * The largest parallelism within `bounds` whose slots are all available (`available(group)`),
 * skipping those `compatible` rejects; `undefined` when not even the lower bound fits.
 */
export function chooseParallelism({
  model,
  available,
  bounds,
  compatible = () => true,
}: {
  model: GroupModel[];
  available(group: string): number;
  bounds: Bounds;
  compatible?(p: number): boolean;
}): number | undefined {
  let best = bounds.upperBound;
  for (const g of model) {
    const have = available(g.name);
    if (have < g.fixed) return undefined;
    if (g.scales) best = Math.min(best, have);
  }
  for (let p = best; p >= bounds.lowerBound; p--) if (compatible(p)) return p;
  return undefined;
}

export type Decision =
  | { action: "wait"; why: string }
  | { action: "stabilize" }
  | { action: "keep" }
  | { action: "start" | "rescale"; parallelism: number };

/**
 * What to do with the parallelism the slots allow (`target`): a job waiting for slots starts at
 * once when its upper bound fits, and after the stabilization window with less; a running job
 * rescales at once when it is outside its bounds or the upper bound fits, else after the window.
 */
export function decide({
  running,
  current,
  target,
  bounds,
  windowElapsed,
}: {
  /** Whether tasks are deployed (else the job waits for slots). */
  running: boolean;
  /** The running attempt's parallelism. */
  current?: number;
  target: number | undefined;
  bounds: Bounds;
  windowElapsed: boolean;
}): Decision {
  if (target === undefined)
    return running
      ? { action: "keep" }
      : { action: "wait", why: `fewer slots than parallelism ${bounds.lowerBound} needs` };
  if (!running || current === undefined)
    return target === bounds.upperBound || windowElapsed
      ? { action: "start", parallelism: target }
      : { action: "stabilize" };
  if (target === current) return { action: "keep" };
  const outside = current < bounds.lowerBound || current > bounds.upperBound;
  if (outside || target < current || target === bounds.upperBound || windowElapsed)
    return { action: "rescale", parallelism: target };
  return { action: "stabilize" };
}

export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    (handle as { unref?: () => void }).unref?.();
    return handle;
  },
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * The stabilization window (Flink's resource-stabilization-timeout): the first change of slots
 * opens it, later changes do not extend it, and when it elapses `onElapsed` decides with what is
 * there. A change that reaches the upper bound closes it early (the caller acts at once).
 */
export class StabilizationWindow {
  readonly #ms: number;
  readonly #clock: Clock;
  readonly #onElapsed: () => void;
  #timer: unknown;
  #deadline: number | undefined;

  constructor({
    stabilizationMs,
    clock = systemClock,
    onElapsed,
  }: {
    stabilizationMs: number;
    clock?: Clock;
    onElapsed(): void;
  }) {
    this.#ms = stabilizationMs;
    this.#clock = clock;
    this.#onElapsed = onElapsed;
  }

  get isOpen(): boolean {
    return this.#deadline !== undefined;
  }

  /** When it elapses, or undefined while closed. */
  get deadline(): number | undefined {
    return this.#deadline;
  }

  open(): void {
    if (this.#deadline !== undefined) return;
    this.#deadline = this.#clock.now() + this.#ms;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      this.#deadline = undefined;
      this.#onElapsed();
    }, this.#ms);
  }

  close(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#deadline = undefined;
  }
}

/**
 * Whether two builds of a job have the same vertices, chains and edges, so a checkpoint of one
 * restores into the other. A parallelism can change chaining (a fixed operator chains with its
 * neighbour only at equal parallelism); such a parallelism is not used.
 */
export function sameStructure(a: JobGraph, b: JobGraph): boolean {
  const shape = (g: JobGraph) =>
    JSON.stringify([
      g.vertices.map((v) => [v.id, v.operators.map((o) => o.id)]),
      g.edges.map((e) => [e.source, e.target]),
    ]);
  return shape(a) === shape(b);
}
