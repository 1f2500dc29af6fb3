/**
 * A map with a size: the least recently used entry goes when a new one would exceed it. For every
 * cache a block keeps, so no cache grows with what it is sent.
 */
export class LruCache<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #onEvict: ((key: K, value: V) => void) | undefined;

  /** `maxEntries` >= 1; `onEvict` hears of each entry pushed out (not of `delete`). */
  constructor(
    readonly maxEntries: number,
    { onEvict }: { onEvict?: (key: K, value: V) => void } = {},
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new RangeError(`an LRU cache holds at least 1 entry, got ${maxEntries}`);
    this.#onEvict = onEvict;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value, now the most recently used; undefined when absent. */
  get(key: K): V | undefined {
    if (!this.#entries.has(key)) return undefined;
    const value = this.#entries.get(key) as V;
    // A Map iterates in insertion order: re-inserting makes it the newest.
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  /** The value without making it recently used. */
  peek(key: K): V | undefined {
    return this.#entries.get(key);
  }

  /** Whether the key is there, without making it recently used. */
  has(key: K): boolean {
    return this.#entries.has(key);
  }

  set(key: K, value: V): this {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    while (this.#entries.size > this.maxEntries) {
      const [oldest, evicted] = this.#entries.entries().next().value as [K, V];
      this.#entries.delete(oldest);
      this.#onEvict?.(oldest, evicted);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  /** Keys, least recently used first. */
  keys(): K[] {
    return [...this.#entries.keys()];
  }
}
