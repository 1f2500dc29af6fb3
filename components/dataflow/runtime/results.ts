/**
 * What `collect` sinks committed, by sink id, for whoever runs the job. A batch id seen before
 * is ignored: a restore commits the restored staged writes again, and they must not count twice.
 */
export class CommittedResults {
  readonly bySink: Record<string, unknown[]> = {};
  readonly #batches = new Set<string>();

  add(sinkId: string, values: unknown[], batchId?: string): void {
    if (batchId !== undefined) {
      const key = `${sinkId}/${batchId}`;
      if (this.#batches.has(key)) return;
      this.#batches.add(key);
    }
    const list = this.bySink[sinkId] ?? [];
    for (const value of values) list.push(value);
    this.bySink[sinkId] = list;
  }
}
