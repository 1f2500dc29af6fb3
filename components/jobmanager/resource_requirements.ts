/**
 * A job's parallelism bounds as Flink's REST API shows them (`GET|PUT
 * /jobs/:jobId/resource-requirements`): one entry per vertex. flotilla rescales the vertices that
 * follow the job's parallelism together, so they share one range (a PUT sets the intersection of
 * the ranges it gives them); a vertex with a fixed parallelism shows it as both bounds.
 */
import { ErrorCode, FlotillaError } from "../core/mod.ts";
import type { JobGraph } from "../dataflow/internal_mod.ts";
import type { Bounds } from "./adaptive.ts";
import type { ResourceRequirements } from "./types.ts";

export function requirementsView(graph: JobGraph, bounds: Bounds): ResourceRequirements {
  return Object.fromEntries(
    graph.vertices.map((v) => [
      v.id,
      {
        parallelism: v.fixedParallelism
          ? { lowerBound: v.parallelism, upperBound: v.parallelism }
          : { ...bounds },
      },
    ]),
  );
}

const bad = (message: string) => new FlotillaError(ErrorCode.BAD_REQUEST, message);

/** The job's new bounds from a PUT body, or a 400 naming the vertex and what is wrong. */
export function boundsFrom(graph: JobGraph, current: Bounds, body: ResourceRequirements): Bounds {
  const ids = graph.vertices.map((v) => v.id);
  let lower: number | undefined;
  let upper: number | undefined;
  for (const [id, { parallelism }] of Object.entries(body)) {
    const v = graph.vertices.find((x) => x.id === id);
    if (!v)
      throw bad(
        `job '${graph.options.name}' has no vertex '${id}'; its vertices: ${ids.join(", ")}`,
      );
    const { lowerBound, upperBound } = parallelism;
    if (lowerBound > upperBound)
      throw bad(`'${id}': lowerBound ${lowerBound} is above upperBound ${upperBound}`);
    if (upperBound > v.maxParallelism)
      throw bad(
        `'${id}': upperBound ${upperBound} is above the job's maxParallelism ${v.maxParallelism}`,
      );
    if (v.fixedParallelism) {
      if (lowerBound > v.parallelism || upperBound < v.parallelism)
        throw bad(
          `'${id}' has the fixed parallelism ${v.parallelism} (setParallelism), which [${lowerBound}, ${upperBound}] leaves out: only vertices that follow the job's parallelism rescale`,
        );
      continue;
    }
    lower = Math.max(lower ?? 1, lowerBound);
    upper = Math.min(upper ?? Number.POSITIVE_INFINITY, upperBound);
  }
  if (lower === undefined || upper === undefined) return current;
  if (lower > upper)
    throw bad(
      `the vertices that follow the job's parallelism rescale together, and the ranges given for them have no parallelism in common (they meet at [${lower}, ${upper}])`,
    );
  return { lowerBound: lower, upperBound: upper };
}
