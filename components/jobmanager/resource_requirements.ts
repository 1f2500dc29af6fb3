/**
 * A job's parallelism bounds per vertex as Flink's REST API shows and takes them (`GET|PUT
 * /jobs/:jobId/resource-requirements`), and the checks of a PUT. A PUT sets the bounds of the
 * vertices it names; the others keep theirs.
 */
import { ErrorCode, FlotillaError } from "../core/mod.ts";
import type { JobTopology } from "../dataflow/internal_mod.ts";
import type { ResourceRequirements } from "../protocol/mod.ts";
import type { VertexBounds } from "./adaptive.ts";

/** Flink's shape of `bounds` (default: each vertex at its parallelism), in the graph's order. */
export function requirementsView(
  graph: JobTopology,
  bounds: VertexBounds = fixedBounds(graph),
): ResourceRequirements {
  return Object.fromEntries(
    graph.vertices.map((v) => [v.id, { parallelism: { ...bounds[v.id]! } }]),
  );
}

/** The bounds a job running at its fixed parallelism shows (the default scheduler). */
export function fixedBounds(graph: JobTopology): VertexBounds {
  return Object.fromEntries(
    graph.vertices.map((v) => [v.id, { lowerBound: v.parallelism, upperBound: v.parallelism }]),
  );
}

/**
 * The job's bounds after a PUT: those of `current`, with the named vertices' replaced. Every
 * problem of the body is a 400 that names the vertex and what is wrong.
 */
export function boundsFrom(
  graph: JobTopology,
  current: VertexBounds,
  body: ResourceRequirements,
): VertexBounds {
  const unknown = Object.keys(body).filter((id) => !graph.vertices.some((v) => v.id === id));
  if (unknown.length > 0)
    throw new FlotillaError(
      ErrorCode.BAD_REQUEST,
      `job '${graph.options.name}' has no vertex ${unknown.map((id) => `'${id}'`).join(", ")}; its vertices: ${graph.vertices.map((v) => v.id).join(", ")} (GET /jobs/:jobId/resource-requirements shows them)`,
    );
  const problems: string[] = [];
  for (const v of graph.vertices) {
    const given = body[v.id]?.parallelism;
    if (!given) continue;
    const { lowerBound, upperBound } = given;
    if (lowerBound > upperBound)
      problems.push(`'${v.id}': lowerBound ${lowerBound} is above upperBound ${upperBound}`);
    if (upperBound > v.maxParallelism)
      problems.push(
        `'${v.id}': upperBound ${upperBound} is above the job's maxParallelism ${v.maxParallelism} (the number of key groups; it cannot change while the job runs)`,
      );
  }
  if (problems.length > 0) throw new FlotillaError(ErrorCode.BAD_REQUEST, problems.join("; "));
  const next: VertexBounds = { ...current };
  for (const [id, { parallelism }] of Object.entries(body))
    next[id] = { lowerBound: parallelism.lowerBound, upperBound: parallelism.upperBound };
  return next;
}
