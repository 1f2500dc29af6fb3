/**
 * The adaptive scheduler inside one JobManager: after every change of slots or bounds it asks
 * `decide` (adaptive.ts) what to do and tells the JobManager the parallelism a waiting job can
 * start at, or the one a running job should be rescaled to. The job lifecycle carries the rescale
 * out (checkpoint, stop, redeploy restoring it, with keyed state redistributed by key groups);
 * this owns the bounds, the per-vertex parallelism and the graph built for it.
 */
import { type Clock, JobState, type Logger } from "../core/mod.ts";
import type { JobTopology } from "../dataflow/internal_mod.ts";
import type { ResourceRequirements } from "../protocol/mod.ts";
import {
  type Bounds,
  type CompiledScheduler,
  chooseParallelism,
  decide,
  defaultBounds,
  StabilizationWindow,
  sameParallelism,
  sameStructure,
  slotModel,
  slotsFor,
  type VertexBounds,
  type VertexParallelism,
} from "./adaptive.ts";
import { boundsFrom, requirementsView } from "./resource_requirements.ts";
import type { SlotPool } from "./slot_pool.ts";

/** What the rescaler needs of its JobManager. */
export interface RescalerHost {
  readonly log: Logger;
  readonly pool: SlotPool;
  state(): JobState;
  /** The slots allow the job to start at `parallelism`: a job waiting for them deploys. */
  ready(parallelism: VertexParallelism): void;
  /** The running job should run at `parallelism`. */
  rescale(parallelism: VertexParallelism, why: string): void;
  /** Declares the pool's requirements to the ResourceManager again. */
  declare(): void;
  /** Why the job is not running yet (shown in its details). */
  waiting(why: string): void;
}

export interface RescalerOptions {
  host: RescalerHost;
  /** The job's graph as submitted: its vertices' parallelism are their upper bounds. */
  graph: JobTopology;
  /** The graph with each vertex at the given parallelism (as TaskManagers build it). */
  rebuild(vertexParallelism: VertexParallelism): JobTopology;
  scheduler: CompiledScheduler;
  /** Bounds set by an earlier PUT (before a failover): start with them instead of the defaults. */
  initial?: ResourceRequirements;
  clock?: Clock;
}

export function createRescaler({
  host,
  graph: base,
  rebuild,
  scheduler,
  initial,
  clock,
}: RescalerOptions) {
  const { log, pool } = host;
  const model = slotModel(base);
  let bounds: VertexBounds = defaultBounds(base, scheduler);
  if (initial) {
    try {
      bounds = boundsFrom(base, bounds, initial);
    } catch (err) {
      // Kept by an older leader for another build of the job, say: the defaults then.
      log.warn({ err: (err as Error).message }, "stored resource requirements not used");
    }
  }
  /** The vertices in the graph's order: what keys the graph cache. */
  const ids = base.vertices.map((v) => v.id);
  const keyOf = (p: VertexParallelism) => ids.map((id) => p[id]).join(",");
  const parallelismOf = (g: JobTopology): VertexParallelism =>
    Object.fromEntries(g.vertices.map((v) => [v.id, v.parallelism]));
  /** Graphs by per-vertex parallelism; null where the graph would differ from the base graph's. */
  const graphs = new Map<string, JobTopology | null>([[keyOf(parallelismOf(base)), base]]);
  /** The deployed (or last) attempt's parallelism per vertex; unset before the first attempt. */
  let parallelism: VertexParallelism | undefined;
  /** Why the slots or bounds last changed: what the rescale log line says. */
  let change = "slots offered";
  const stabilization = new StabilizationWindow({
    stabilizationMs: scheduler.stabilizationMs,
    ...(clock ? { clock } : {}),
    onElapsed: () => evaluate(true),
  });

  function graphAt(p: VertexParallelism): JobTopology | null {
    const key = keyOf(p);
    let g = graphs.get(key);
    if (g === undefined) {
      try {
        g = rebuild(p);
        if (!sameStructure(base, g)) {
          log.info(
            { parallelism: p },
            "parallelism not used: the graph differs from the submitted one",
          );
          g = null;
        }
      } catch (err) {
        log.info({ parallelism: p, err: (err as Error).message }, "parallelism not used");
        g = null;
      }
      graphs.set(key, g);
    }
    return g;
  }

  /** The parallelism the pool's slots allow within the bounds (undefined: not even the lower). */
  function target(): VertexParallelism | undefined {
    return chooseParallelism({
      model,
      available: (group) => pool.inGroup(group).length,
      bounds,
      compatible: (p) => graphAt(p) !== null,
    });
  }

  /** The pool wants each group's largest upper bound in slots: declared to the RM, taken from TMs. */
  function retarget(): void {
    const profiles = new Map(model.map((g) => [g.name, g.profile]));
    pool.retarget(
      slotsFor(model, bounds).map(({ group, count }) => ({
        name: group,
        slots: count,
        profile: profiles.get(group)!,
      })),
    );
  }

  function evaluate(windowElapsed: boolean): void {
    const state = host.state();
    const running = state === JobState.RUNNING;
    if (!running && state !== JobState.CREATED) return; // a restart, a rescale or an end is under way
    const d = decide({
      running,
      ...(running && parallelism !== undefined ? { current: parallelism } : {}),
      target: target(),
      bounds,
      windowElapsed,
    });
    if (d.action === "stabilize") {
      stabilization.open();
      return;
    }
    stabilization.close();
    if (d.action === "wait") host.waiting(d.why);
    if (d.action === "start") host.ready(d.parallelism);
    if (d.action === "rescale") {
      log.info({ from: parallelism, to: d.parallelism, why: change }, "rescaling");
      host.rescale(d.parallelism, change);
    }
  }

  retarget();
  return {
    /** The deployed (or last) attempt's parallelism per vertex, what TaskManagers build with. */
    get vertexParallelism(): VertexParallelism | undefined {
      return parallelism;
    },
    /** The range the job's vertices may run in: the lowest lower and the highest upper bound. */
    get bounds(): Bounds {
      const all = Object.values(bounds);
      return {
        lowerBound: Math.min(...all.map((b) => b.lowerBound)),
        upperBound: Math.max(...all.map((b) => b.upperBound)),
      };
    },
    /** The graph at `p` (one `ready` or `rescale` named, so one the builder accepted). */
    graphAt(p: VertexParallelism): JobTopology {
      const g = graphAt(p);
      if (!g) throw new Error(`no graph at parallelism ${JSON.stringify(p)}`);
      return g;
    },
    /** An attempt deploys at `p`: from now on the job runs at it. */
    deployed(p: VertexParallelism): void {
      if (parallelism === undefined) log.info({ parallelism: p, bounds }, "starting");
      else if (!sameParallelism(p, parallelism))
        log.info({ from: parallelism, to: p, why: change }, "rescaled");
      parallelism = p;
    },
    /** Slots came (offered) or went (a TaskManager lost, a slot refused), or an attempt deployed. */
    slotsChanged(why?: string): void {
      if (why) change = why;
      evaluate(false);
    },
    /** The job waits for slots again: with the last attempt's slots still there, at once. */
    resume(): void {
      const now = target();
      if (now !== undefined && parallelism !== undefined && sameParallelism(now, parallelism))
        host.ready(now);
      else evaluate(false);
    },
    requirements(): ResourceRequirements {
      return requirementsView(base, bounds);
    },
    /** New bounds from a PUT: declared at once; rescales when the job runs outside them. */
    setRequirements(body: ResourceRequirements): ResourceRequirements {
      const next = boundsFrom(base, bounds, body);
      const changed = ids.filter(
        (id) =>
          next[id]!.lowerBound !== bounds[id]!.lowerBound ||
          next[id]!.upperBound !== bounds[id]!.upperBound,
      );
      if (changed.length > 0) {
        log.info({ from: bounds, to: next }, "resource requirements changed");
        bounds = next;
        change = `resource requirements ${changed.map((id) => `'${id}' [${next[id]!.lowerBound}, ${next[id]!.upperBound}]`).join(", ")}`;
        retarget();
        host.declare();
        evaluate(false);
      }
      return requirementsView(base, bounds);
    },
    stop(): void {
      stabilization.close();
    },
  };
}

export type Rescaler = ReturnType<typeof createRescaler>;
