/**
 * The job graphs a TaskManager's subtasks run in: the job artifact loaded from the blob store and
 * its graph rebuilt exactly as the JobManager built it, once per job and shape, kept while the
 * job holds slots here and forgotten after.
 */
import { ErrorCode, type JobId, NotFoundError } from "../core/mod.ts";
import { type JobGraph, loadArtifact } from "../dataflow/internal_mod.ts";
import type { TaskDescriptor } from "../protocol/mod.ts";

export interface ArtifactSource {
  get(key: string): Promise<Uint8Array | undefined>;
}

export class JobGraphs {
  readonly #artifacts: ArtifactSource;
  /** By job, then by shape (artifact, parallelism, vertex parallelism, args). */
  readonly #graphs = new Map<JobId, Map<string, Promise<JobGraph>>>();

  constructor(artifacts: ArtifactSource) {
    this.#artifacts = artifacts;
  }

  /** The graph a descriptor's subtask belongs to; a missing artifact is NOT_FOUND. */
  graphFor(d: TaskDescriptor): Promise<JobGraph> {
    const shape = JSON.stringify([d.artifact, d.parallelism, d.vertexParallelism, d.args]);
    let byShape = this.#graphs.get(d.jobId);
    if (!byShape) {
      byShape = new Map();
      this.#graphs.set(d.jobId, byShape);
    }
    const known = byShape.get(shape);
    if (known) return known;
    const graph = this.#load(d);
    byShape.set(shape, graph);
    // A failed load is tried again by the next deployment.
    graph.catch(() => {
      if (byShape.get(shape) === graph) byShape.delete(shape);
    });
    return graph;
  }

  /** The job left this TaskManager: its graphs go. */
  forget(jobId: JobId): void {
    this.#graphs.delete(jobId);
  }

  /** Jobs with graphs kept. */
  jobs(): JobId[] {
    return [...this.#graphs.keys()];
  }

  async #load(d: TaskDescriptor): Promise<JobGraph> {
    const bytes = await this.#artifacts.get(d.artifact);
    if (!bytes) {
      throw new NotFoundError(
        ErrorCode.NOT_FOUND,
        `artifact ${d.artifact} of job ${d.jobId} is not in the blob store`,
      );
    }
    const job = await loadArtifact(bytes, { name: `job ${d.jobId}`, expected: d.artifact });
    return job.graph({
      args: d.args,
      ...(d.secrets ? { secrets: d.secrets } : {}),
      ...(d.parallelism ? { parallelism: d.parallelism } : {}),
      ...(d.vertexParallelism ? { vertexParallelism: d.vertexParallelism } : {}),
    });
  }
}
