/**
 * What `collect` sinks committed, by sink id, for whoever runs the job. A batch id seen before
 * is ignored: a restore commits the restored staged writes again, and they must not count twice.
 * At most `maxRecords` values in all (`collect-sink.max-records`): a batch past it is refused
 * whole with PAYLOAD_TOO_LARGE, and whoever runs the job fails it (a restart would hit it again).
 */
import { configKeys, ErrorCode, FlotillaError } from "../../core/mod.ts";

/** The default of `collect-sink.max-records`. */
export const DEFAULT_COLLECT_MAX_RECORDS = Number(configKeys["collect-sink.max-records"].default);

export class CommittedResults {
  readonly bySink: Record<string, unknown[]> = {};
  readonly #batches = new Set<string>();
  readonly #maxRecords: number;
  #records = 0;

  constructor({ maxRecords = DEFAULT_COLLECT_MAX_RECORDS }: { maxRecords?: number } = {}) {
    this.#maxRecords = maxRecords;
  }

  /** Values kept, over all sinks. */
  get records(): number {
    return this.#records;
  }

  add(sinkId: string, values: unknown[], batchId?: string): void {
    const key = batchId === undefined ? undefined : `${sinkId}/${batchId}`;
    if (key !== undefined && this.#batches.has(key)) return;
    if (this.#records + values.length > this.#maxRecords)
      throw new FlotillaError(
        ErrorCode.PAYLOAD_TOO_LARGE,
        `the job's collect sinks handed back more than ${this.#maxRecords} values (sink ${sinkId} sent ${values.length} more after ${this.#records}): raise collect-sink.max-records, or write the results to a real sink`,
      );
    if (key !== undefined) this.#batches.add(key);
    const list = this.bySink[sinkId] ?? [];
    for (const value of values) list.push(value);
    this.bySink[sinkId] = list;
    this.#records += values.length;
  }
}
