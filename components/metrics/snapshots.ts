/**
 * Sources of series that come and go (a job's JobManager, a TaskManager's subtasks), read once
 * per scrape for every gauge of their family, and capped: what is over the cap is counted, not
 * served, so a scrape's size stays bounded however many jobs run.
 */

import { scrapeGeneration } from "./registry.ts";

export class TrackedSources<S> {
  readonly #sources = new Map<string, () => S[]>();
  readonly #cap: number;
  #cached: { generation: number; rows: S[]; dropped: number } | undefined;

  constructor(cap: number) {
    this.#cap = cap;
  }

  /** Adds `source` under `key` (replacing one of the same key); the returned function removes it. */
  track(key: string, source: () => S[]): () => void {
    this.#sources.set(key, source);
    this.#cached = undefined;
    return () => {
      if (this.#sources.get(key) === source) this.#sources.delete(key);
      this.#cached = undefined;
    };
  }

  get size(): number {
    return this.#sources.size;
  }

  /**
   * Every source's rows, at most `cap` of them; with `perScrape`, one read serves every gauge of
   * one scrape. A source that throws gives no rows (its block is going away).
   */
  rows({ perScrape = false } = {}): { rows: S[]; dropped: number } {
    const generation = perScrape ? scrapeGeneration() : -1;
    if (perScrape && this.#cached?.generation === generation) return this.#cached;
    const rows: S[] = [];
    let dropped = 0;
    for (const source of this.#sources.values()) {
      let got: S[];
      try {
        got = source();
      } catch {
        continue;
      }
      for (const row of got) {
        if (rows.length < this.#cap) rows.push(row);
        else dropped++;
      }
    }
    this.#cached = { generation, rows, dropped };
    return { rows, dropped };
  }
}
