/**
 * Key groups, after Flink's KeyGroupRangeAssignment: a key hashes to one of `maxParallelism` key
 * groups, and each parallel instance owns a contiguous range of them. State is stored and
 * snapshotted per key group, so a restore at another parallelism just reassigns ranges.
 */

/** A stable identity for a key: primitives as themselves, anything else as canonical JSON. */
export function keyId(key: unknown): string | number | boolean {
  const type = typeof key;
  if (type === "string" || type === "number" || type === "boolean")
    return key as string | number | boolean;
  if (key === null || key === undefined) return String(key);
  return canonicalJson(key);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** 32-bit FNV-1a of a string, then murmur3's finaliser to spread the bits. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function keyHash(key: unknown): number {
  const id = keyId(key);
  return hashString(typeof id === "string" ? id : `${typeof id}:${id}`);
}

export function keyGroupOf(key: unknown, maxParallelism: number): number {
  return keyHash(key) % maxParallelism;
}

/** The instance that owns a key group. */
export function subtaskForKeyGroup(
  keyGroup: number,
  parallelism: number,
  maxParallelism: number,
): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

/** The key groups [start, end] instance `subtask` owns. */
export function keyGroupRange(
  subtask: number,
  parallelism: number,
  maxParallelism: number,
): { start: number; end: number } {
  return {
    start: Math.floor((subtask * maxParallelism + parallelism - 1) / parallelism),
    end: Math.floor(((subtask + 1) * maxParallelism - 1) / parallelism),
  };
}
