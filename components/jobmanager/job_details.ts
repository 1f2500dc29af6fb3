/** What a job's details say about its vertices: parallelism, task states, records in and out. */
import type { JobGraph } from "../dataflow/internal_mod.ts";
import type { PooledSlot } from "./slot_pool.ts";
import type { ResourceRequirements, TaskReport } from "./types.ts";

/** One subtask of the current attempt: its state, its slot, its last counters. */
export interface TaskSlot {
  state: TaskReport["state"];
  slot: PooledSlot;
  metrics?: Record<string, number>;
}

/**
 * Per vertex of the current attempt's graph (so its current parallelism), from `tasks` by
 * `<vertex>/<subtask>`; with `bounds` (adaptive jobs) each vertex's parallelism bounds too.
 */
export function vertexDetails(
  graph: JobGraph,
  tasks: Map<string, TaskSlot>,
  bounds?: ResourceRequirements,
) {
  return graph.vertices.map((v) => {
    const mine = [...tasks.entries()].filter(([k]) => k.startsWith(`${v.id}/`));
    const counts: Record<string, number> = {};
    for (const [, t] of mine) counts[t.state] = (counts[t.state] ?? 0) + 1;
    return {
      id: v.id,
      name: v.name,
      parallelism: v.parallelism,
      ...(bounds?.[v.id] ? { parallelismBounds: bounds[v.id]!.parallelism } : {}),
      tasks: counts,
      recordsIn: mine.reduce((n, [, t]) => n + (t.metrics?.recordsIn ?? 0), 0),
      recordsOut: mine.reduce((n, [, t]) => n + (t.metrics?.recordsOut ?? 0), 0),
      subtasks: mine.map(([k, t]) => ({
        subtask: Number(k.slice(v.id.length + 1)),
        state: t.state,
        taskmanager: t.slot.tmId,
        recordsIn: t.metrics?.recordsIn ?? 0,
        recordsOut: t.metrics?.recordsOut ?? 0,
      })),
    };
  });
}
