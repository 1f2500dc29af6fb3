/**
 * The job graphs a TaskManager's subtasks run in: the job artifact loaded from the blob store and
 * its graph rebuilt exactly as the JobManager built it, once per job and shape, kept while the
 * job holds slots here and forgotten after; at most `maxJobs` jobs and `maxShapes` shapes each,
 * least recently deployed out first (a deployment of an evicted one builds it again).
 */
import { ErrorCode, type JobId, LruCache, NotFoundError } from "../core/mod.ts";
import { type JobGraph, loadArtifact } from "../dataflow/internal_mod.ts";
import type { TaskDescriptor } from "../protocol/mod.ts";

export interface ArtifactSource {
  get(key: string): Promise<Uint8Array | undefined>;
}

export interface JobGraphsOptions {
  /** @default 64 */
  maxJobs?: number;
  /** Shapes per job (a rescaled job has one per parallelism it ran at). @default 8 */
  maxShapes?: number;
}

export class JobGraphs {
  readonly #artifacts: ArtifactSource;
  readonly #maxShapes: number;
  /** By job, then by shape (artifact, parallelism, vertex parallelism, args). */
  readonly #graphs: LruCache<JobId, LruCache<string, Promise<JobGraph>>>;

  constructor(artifacts: ArtifactSource, { maxJobs = 64, maxShapes = 8 }: JobGraphsOptions = {}) {
    this.#artifacts = artifacts;
    this.#maxShapes = maxShapes;
    this.#graphs = new LruCache(maxJobs);
  }

  /** The graph a descriptor's subtask belongs to; a missing artifact is NOT_FOUND. */
  graphFor(d: TaskDescriptor): Promise<JobGraph> {
    const shape = JSON.stringify([d.artifact, d.parallelism, d.vertexParallelism, d.args]);
    let byShape = this.#graphs.get(d.jobId);
    if (!byShape) {
      byShape = new LruCache(this.#maxShapes);
      this.#graphs.set(d.jobId, byShape);
    }
    const known = byShape.get(shape);
    if (known) return known;
    const graph = this.#load(d);
    byShape.set(shape, graph);
    // A failed load is tried again by the next deployment.
    graph.catch(() => {
      if (byShape.peek(shape) === graph) byShape.delete(shape);
    });
    return graph;
  }

  /** The job left this TaskManager: its graphs go. */
  forget(jobId: JobId): void {
    this.#graphs.delete(jobId);
  }

  /** Jobs with graphs kept. */
  jobs(): JobId[] {
    return this.#graphs.keys();
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
