/**
 * A bounded source over values fixed in the job's code; one reader, resuming at an index. The
 * graph is rebuilt from the same artifact on every TaskManager, so the values never travel.
 */
import { InvalidArgumentError } from "../../core/mod.ts";
import type { Source, SourceBatch, SourceReader, Timestamp } from "../types.ts";
import { firstNumber } from "./support.ts";

export interface CollectionOptions<T> {
  /** Event time per value: index-aligned, or computed from the value. @default none */
  timestamps?: readonly Timestamp[] | ((value: T, index: number) => Timestamp);
}

export function collection<T>(
  values: readonly T[],
  { timestamps }: CollectionOptions<T> = {},
): Source<T> {
  if (!Array.isArray(values)) {
    throw new InvalidArgumentError(
      `collection: values must be an array, got ${typeof values}; e.g. sources.collection([1, 2, 3])`,
    );
  }
  if (Array.isArray(timestamps) && timestamps.length !== values.length) {
    throw new InvalidArgumentError(
      `collection: timestamps has ${timestamps.length} entries for ${values.length} values; give one per value`,
    );
  }
  const timeOf =
    typeof timestamps === "function"
      ? timestamps
      : timestamps
        ? (_: T, index: number) => timestamps[index]!
        : undefined;
  return {
    kind: "collection",
    parallelism: 1,
    bounded: true,
    createReader: () => new CollectionReader(values, timeOf),
    describe: () => ({ kind: "collection", size: values.length, timestamps: !!timeOf }),
  };
}

class CollectionReader<T> implements SourceReader<T> {
  readonly #values: readonly T[];
  readonly #timeOf: ((value: T, index: number) => Timestamp) | undefined;
  /** Index of the next value to emit. */
  #index = 0;

  constructor(values: readonly T[], timeOf: ((value: T, index: number) => Timestamp) | undefined) {
    this.#values = values;
    this.#timeOf = timeOf;
  }

  restore(positions: unknown[]): void {
    this.#index = Math.min(firstNumber(positions) ?? 0, this.#values.length);
  }

  async poll(max: number): Promise<SourceBatch<T> | null> {
    if (this.#index >= this.#values.length) return null;
    const start = this.#index;
    const values = this.#values.slice(start, start + max);
    this.#index += values.length;
    const timeOf = this.#timeOf;
    if (!timeOf) return { values };
    return { values, timestamps: values.map((v, i) => timeOf(v, start + i)) };
  }

  position(): number {
    return this.#index;
  }
}
