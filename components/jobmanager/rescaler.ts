/**
 * The adaptive scheduler inside one JobManager: after every change of slots or bounds it asks
 * `decide` (adaptive.ts) what to do, and starts the job at the per-vertex parallelism the slots
 * allow, or rescales it: checkpoint, cancel the tasks, rebuild the graph at the new parallelism,
 * redeploy restoring the checkpoint (keyed state is redistributed by key groups, per vertex).
 * The JobManager owns the job's lifecycle; this owns the parallelism.
 */
import { JobState, type Logger } from "../core/mod.ts";
import type { CheckpointCoordinator, JobGraph } from "../dataflow/internal_mod.ts";
import type { ResourceRequirements } from "../protocol/mod.ts";
import {
  type Bounds,
  type Clock,
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
import type { PooledSlot, SlotPool } from "./slot_pool.ts";

/** A rescale waits at most this long for its checkpoint, then restores the latest one. */
const RESCALE_CHECKPOINT_MS = 10_000;

/** What the rescaler needs of its JobManager. */
export interface RescalerHost {
  readonly log: Logger;
  readonly pool: SlotPool;
  readonly coordinator: CheckpointCoordinator;
  status(): JobState;
  setStatus(next: JobState, why: string): void;
  /** Cancels the running attempt's tasks and waits until they stopped. */
  stopAttempt(): Promise<void>;
  /** Deploys a new attempt of `graph` on the pool's slots. */
  deploy(graph: JobGraph): void;
  freeSlot(slot: PooledSlot): Promise<void>;
  /** Declares the pool's requirements to the ResourceManager again. */
  declare(): void;
  /** Why the job is not running yet (shown in its details). */
  waiting(why: string): void;
}

export interface RescalerOptions {
  host: RescalerHost;
  /** The job's graph as submitted: its vertices' parallelism are their upper bounds. */
  graph: JobGraph;
  /** The graph with each vertex at the given parallelism (as TaskManagers build it). */
  rebuild(vertexParallelism: VertexParallelism): JobGraph;
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
  const { log, pool, coordinator } = host;
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
  const parallelismOf = (g: JobGraph): VertexParallelism =>
    Object.fromEntries(g.vertices.map((v) => [v.id, v.parallelism]));
  /** Graphs by per-vertex parallelism; null where the graph would differ from the base graph's. */
  const graphs = new Map<string, JobGraph | null>([[keyOf(parallelismOf(base)), base]]);
  /** The running (or last) attempt's parallelism per vertex; unset before the first attempt. */
  let parallelism: VertexParallelism | undefined;
  let current = base;
  let rescales = 0;
  let rescaling = false;
  /** Why the slots or bounds last changed: what the rescale log line says. */
  let change = "slots offered";
  const stabilization = new StabilizationWindow({
    stabilizationMs: scheduler.stabilizationMs,
    ...(clock ? { clock } : {}),
    onElapsed: () => evaluate(true),
  });

  function graphAt(p: VertexParallelism): JobGraph | null {
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
    if (rescaling) return; // the rescale looks again when it is done
    const status = host.status();
    const running = status === JobState.RUNNING;
    if (!running && status !== JobState.CREATED) return; // a restart or an end is under way
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
    if (d.action === "start") startAt(d.parallelism);
    if (d.action === "rescale") void rescale(d.parallelism);
  }

  /** Deploys a new attempt at parallelism `p` (a rescale when it differs from the last one). */
  function startAt(p: VertexParallelism): void {
    const g = graphAt(p)!;
    if (parallelism === undefined) log.info({ parallelism: p, bounds }, "starting");
    else if (!sameParallelism(p, parallelism)) {
      rescales++;
      log.info({ from: parallelism, to: p, why: change }, "rescaled");
    }
    parallelism = p;
    current = g;
    for (const slot of pool.surplus()) {
      pool.remove(slot.slotId);
      void host.freeSlot(slot);
    }
    host.deploy(g);
  }

  async function rescale(to: VertexParallelism): Promise<void> {
    rescaling = true;
    const from = parallelism;
    const running = () => host.status() === JobState.RUNNING && !coordinator.finishing;
    try {
      log.info({ from, to, why: change }, "rescaling: taking a checkpoint");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const limit = Math.min(
        current.options.checkpointing?.timeoutMs ?? 60_000,
        RESCALE_CHECKPOINT_MS,
      );
      try {
        await Promise.race([
          coordinator.triggerCheckpoint(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no checkpoint within ${limit} ms`)), limit);
          }),
        ]);
      } catch (err) {
        if (running())
          log.warn(
            { err: (err as Error).message, checkpoint: coordinator.latest?.checkpointId },
            "rescale checkpoint failed: restoring the latest completed one",
          );
      } finally {
        clearTimeout(timer);
      }
      // The input ended meanwhile (the final checkpoint is due), or the job failed or ended.
      if (!running()) return;
      host.setStatus(
        JobState.RESTARTING,
        `rescaling from ${JSON.stringify(from)} to ${JSON.stringify(to)}: ${change}`,
      );
      await host.stopAttempt();
      if (host.status() !== JobState.RESTARTING) return; // a cancel won
      const now = target(); // slots may have come or gone while the tasks stopped
      if (now === undefined) {
        host.setStatus(JobState.CREATED, "waiting for slots");
        return;
      }
      startAt(now);
    } finally {
      rescaling = false;
    }
    evaluate(false);
  }

  retarget();
  return {
    /** The running (or last) attempt's parallelism per vertex, what TaskManagers build with. */
    get vertexParallelism(): VertexParallelism | undefined {
      return parallelism;
    },
    get rescales(): number {
      return rescales;
    },
    /** The range the job's vertices may run in: the lowest lower and the highest upper bound. */
    get bounds(): Bounds {
      const all = Object.values(bounds);
      return {
        lowerBound: Math.min(...all.map((b) => b.lowerBound)),
        upperBound: Math.max(...all.map((b) => b.upperBound)),
      };
    },
    /** Slots came (offered) or went (a TaskManager lost, with the job not running on it). */
    slotsChanged(why: string): void {
      change = why;
      evaluate(false);
    },
    /** After a failure the job waits for slots again: with the last attempt's slots, at once. */
    restart(): void {
      const now = target();
      if (now !== undefined && parallelism !== undefined && sameParallelism(now, parallelism))
        startAt(now);
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
