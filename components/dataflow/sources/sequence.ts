/**
 * A deterministic, replayable source of `{ key, seq }` records (after Flink's
 * SequenceGeneratorSource): every key counts up from 0 by exactly one, so a downstream check can
 * prove that nothing was lost or duplicated across failures and rescaling.
 */
import { InvalidArgumentError } from "../../core/mod.ts";
import type { RuntimeContext, Source, SourceBatch, SourceReader } from "../types.ts";
import { RateLimiter } from "./rate_limiter.ts";
import { idle, requireInteger } from "./support.ts";

export interface SequenceRecord {
  key: number;
  seq: number;
}

export interface SequenceOptions {
  /** Number of keys, 0..keys-1; key `k` is read by subtask `k % parallelism`. */
  keys: number;
  /** Records per key; the source is bounded when given. @default unbounded */
  perKey?: number;
  /** Records per second of each reader. @default unlimited */
  ratePerSecond?: number;
  /** Event time of `seq` 0; records carry `startTime + seq * stepMs` when this or `stepMs` is set. @default 0 */
  startTime?: number;
  /** Event-time distance between two records of one key. @default 1 */
  stepMs?: number;
}

/** Where each owned key resumes: `[key, nextSeq]` pairs. */
export interface SequencePosition {
  next: Array<[number, number]>;
}

export function sequence(options: SequenceOptions): Source<SequenceRecord> {
  const { keys, perKey, ratePerSecond, startTime, stepMs } = options;
  requireInteger("sequence", "keys", keys, 1);
  if (perKey !== undefined) requireInteger("sequence", "perKey", perKey, 0);
  if (ratePerSecond !== undefined && !(ratePerSecond > 0)) {
    throw new InvalidArgumentError(
      `sequence: ratePerSecond must be > 0, got ${ratePerSecond}; leave it out for no limit`,
    );
  }
  if (stepMs !== undefined && !Number.isFinite(stepMs)) {
    throw new InvalidArgumentError(`sequence: stepMs must be a finite number, got ${stepMs}`);
  }
  const timed = startTime !== undefined || stepMs !== undefined;
  return {
    kind: "sequence",
    bounded: perKey !== undefined,
    createReader: (ctx) =>
      new SequenceReader(ctx, {
        keys,
        perKey,
        ratePerSecond,
        time: timed ? { start: startTime ?? 0, step: stepMs ?? 1 } : undefined,
      }),
    describe: () => ({ kind: "sequence", keys, perKey, ratePerSecond, startTime, stepMs }),
  };
}

interface ReaderOptions {
  keys: number;
  perKey: number | undefined;
  ratePerSecond: number | undefined;
  time: { start: number; step: number } | undefined;
}

class SequenceReader implements SourceReader<SequenceRecord> {
  readonly #options: ReaderOptions;
  /** Owned keys in ascending order, and the next seq of each (same index). */
  readonly #keys: number[] = [];
  readonly #next: number[] = [];
  /** Round-robin cursor into `#keys`, so keys interleave instead of one running ahead. */
  #cursor = 0;
  readonly #limiter: RateLimiter | undefined;

  constructor(ctx: RuntimeContext, options: ReaderOptions) {
    this.#options = options;
    for (let key = ctx.subtask; key < options.keys; key += ctx.parallelism) {
      this.#keys.push(key);
      this.#next.push(0);
    }
    if (options.ratePerSecond !== undefined) {
      this.#limiter = new RateLimiter(options.ratePerSecond, () => ctx.now());
    }
  }

  restore(positions: unknown[]): void {
    const restored = new Map<number, number>();
    for (const position of positions) {
      for (const [key, seq] of (position as SequencePosition | undefined)?.next ?? []) {
        // Two positions never own the same key; `max` only guards against a malformed merge.
        restored.set(key, Math.max(seq, restored.get(key) ?? 0));
      }
    }
    for (let i = 0; i < this.#keys.length; i++) this.#next[i] = restored.get(this.#keys[i]!) ?? 0;
    this.#cursor = 0;
  }

  async poll(max: number): Promise<SourceBatch<SequenceRecord> | null> {
    const { perKey, time } = this.#options;
    const live = this.#liveKeys();
    if (live === 0) {
      if (perKey !== undefined) return null;
      await idle();
      return { values: [] };
    }
    const budget = this.#limiter ? await this.#limiter.take(max) : max;
    const values: SequenceRecord[] = [];
    const timestamps: number[] | undefined = time ? [] : undefined;
    let exhausted = 0;
    while (values.length < budget && exhausted < this.#keys.length) {
      const i = this.#cursor;
      this.#cursor = (this.#cursor + 1) % this.#keys.length;
      const seq = this.#next[i]!;
      if (perKey !== undefined && seq >= perKey) {
        exhausted++;
        continue;
      }
      exhausted = 0;
      this.#next[i] = seq + 1;
      values.push({ key: this.#keys[i]!, seq });
      if (timestamps && time) timestamps.push(time.start + seq * time.step);
    }
    this.#limiter?.giveBack(budget - values.length);
    return timestamps ? { values, timestamps } : { values };
  }

  position(): SequencePosition {
    return { next: this.#keys.map((key, i) => [key, this.#next[i]!]) };
  }

  #liveKeys(): number {
    const { perKey } = this.#options;
    if (perKey === undefined) return this.#keys.length;
    return this.#next.filter((seq) => seq < perKey).length;
  }
}
