/**
 * The adaptive scheduler's decisions, free of I/O (after Flink's AdaptiveScheduler, FLIP-160, and
 * reactive mode, FLIP-159): each vertex's bounds, the slots they need under slot sharing, each
 * vertex's parallelism for the slots at hand, what to do about it, and when (the stabilization
 * window, on an injectable clock).
 */
import { type Clock, systemClock } from "../core/mod.ts";
import type { JobTopology } from "../dataflow/internal_mod.ts";
import type { ResourceProfile } from "../protocol/mod.ts";

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

export interface Bounds {
  lowerBound: number;
  upperBound: number;
}

/** Each vertex's parallelism bounds, by vertex id. */
export type VertexBounds = Record<string, Bounds>;
/** Each vertex's parallelism, by vertex id. */
export type VertexParallelism = Record<string, number>;

/** One slot-sharing group: its slots' profile and the vertices that share them. */
export interface GroupModel {
  name: string;
  profile: ResourceProfile;
  /** Ids of the group's vertices, in the graph's order. */
  vertices: string[];
}

export function slotModel(graph: JobTopology): GroupModel[] {
  return graph.slotSharingGroups.map((g) => ({
    name: g.name,
    profile: g.profile,
    vertices: graph.vertices.filter((v) => v.slotSharingGroup === g.name).map((v) => v.id),
  }));
}

/**
 * The bounds of a job as submitted (Flink's defaults): a vertex that follows the job's
 * parallelism runs between the minimum and that parallelism (reactive mode: maxParallelism); a
 * vertex with `setParallelism` runs at exactly it.
 */
export function defaultBounds(
  graph: JobTopology,
  { reactive, minParallelism }: Pick<CompiledScheduler, "reactive" | "minParallelism">,
): VertexBounds {
  return Object.fromEntries(
    graph.vertices.map((v) => {
      if (v.fixedParallelism)
        return [v.id, { lowerBound: v.parallelism, upperBound: v.parallelism }];
      const upper = reactive ? v.maxParallelism : v.parallelism;
      return [v.id, { lowerBound: Math.min(minParallelism, upper), upperBound: upper }];
    }),
  );
}

/** Slots per group for `bounds`: subtask i of every vertex shares slot i, so the largest upper bound. */
export function slotsFor(
  model: GroupModel[],
  bounds: VertexBounds,
): { group: string; count: number }[] {
  return model.map((g) => ({
    group: g.name,
    count: Math.max(0, ...g.vertices.map((id) => bounds[id]!.upperBound)),
  }));
}

/**
 * Each vertex's parallelism for the slots at hand (`available(group)`), as Flink's adaptive
 * scheduler with slot sharing: a group uses s = min(its slots, the largest upper bound) slots and
 * runs each vertex at min(upper, s), which needs s >= every lower bound. When `compatible`
 * rejects the result, every group above its lower bounds tries one slot fewer. `undefined`: not
 * even the lower bounds fit.
 */
export function chooseParallelism({
  model,
  available,
  bounds,
  compatible = () => true,
}: {
  model: GroupModel[];
  available(group: string): number;
  bounds: VertexBounds;
  compatible?(parallelism: VertexParallelism): boolean;
}): VertexParallelism | undefined {
  const groups = model.map((g) => {
    const of = g.vertices.map((id) => bounds[id]!);
    return {
      vertices: g.vertices,
      lower: Math.max(0, ...of.map((b) => b.lowerBound)),
      slots: Math.min(available(g.name), Math.max(0, ...of.map((b) => b.upperBound))),
    };
  });
  if (groups.some((g) => g.slots < g.lower)) return undefined;
  for (;;) {
    const choice: VertexParallelism = {};
    for (const g of groups)
      for (const id of g.vertices) choice[id] = Math.min(bounds[id]!.upperBound, g.slots);
    if (compatible(choice)) return choice;
    const lower = groups.filter((g) => g.slots > g.lower);
    if (lower.length === 0) return undefined;
    for (const g of lower) g.slots--;
  }
}

/** Whether two choices run every vertex at the same parallelism. */
export function sameParallelism(a: VertexParallelism, b: VertexParallelism): boolean {
  const ids = Object.keys(a);
  return ids.length === Object.keys(b).length && ids.every((id) => a[id] === b[id]);
}

export type Decision =
  | { action: "wait"; why: string }
  | { action: "stabilize" }
  | { action: "keep" }
  | { action: "start" | "rescale"; parallelism: VertexParallelism };

/**
 * What to do with the parallelism the slots allow (`target`): a job waiting for slots starts at
 * once when every vertex reaches its upper bound, and after the stabilization window with less;
 * a running job rescales at once when a vertex runs outside its bounds, the slots shrank, or every
 * upper bound fits, else after the window.
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
  /** The running attempt's parallelism per vertex. */
  current?: VertexParallelism;
  target: VertexParallelism | undefined;
  bounds: VertexBounds;
  windowElapsed: boolean;
}): Decision {
  const entries = Object.entries(bounds);
  if (target === undefined)
    return running
      ? { action: "keep" }
      : {
          action: "wait",
          why: `fewer slots than the lower bounds need (${entries.map(([id, b]) => `'${id}' >= ${b.lowerBound}`).join(", ")})`,
        };
  const atUpper = entries.every(([id, b]) => target[id] === b.upperBound);
  if (!running || current === undefined)
    return atUpper || windowElapsed
      ? { action: "start", parallelism: target }
      : { action: "stabilize" };
  if (sameParallelism(target, current)) return { action: "keep" };
  const outside = entries.some(
    ([id, b]) => current[id]! < b.lowerBound || current[id]! > b.upperBound,
  );
  const shrank = entries.some(([id]) => target[id]! < current[id]!);
  if (outside || shrank || atUpper || windowElapsed)
    return { action: "rescale", parallelism: target };
  return { action: "stabilize" };
}

/**
 * The system clock with timers that do not keep the process alive: a window still open when its
 * JobManager stops must not hold the process up.
 */
const unrefClock: Clock = {
  ...systemClock,
  setTimer: (fn, ms) => {
    const handle = systemClock.setTimer(fn, ms);
    (handle as { unref?: () => void }).unref?.();
    return handle;
  },
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
    clock = unrefClock,
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
export function sameStructure(a: JobTopology, b: JobTopology): boolean {
  const shape = (g: JobTopology) =>
    JSON.stringify([
      g.vertices.map((v) => [v.id, v.operators.map((o) => o.id)]),
      g.edges.map((e) => [e.source, e.target]),
    ]);
  return shape(a) === shape(b);
}
