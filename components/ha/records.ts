/** What the record stores share: JSON values, listing a prefix, fenced writes, argument checks. */
import { ErrorCode, FlotillaError, InvalidArgumentError, json } from "../core/mod.ts";
import type { HaKv } from "./kv.ts";
import type { WriteOptions } from "./types.ts";

/** Gets in flight at once while listing. */
const LIST_WINDOW = 64;

export function encodeRecord(value: unknown): Uint8Array {
  return json.encode(value);
}

export function decodeRecord<T>(bytes: Uint8Array, key: string, location: string): T {
  try {
    return json.decode(bytes) as T;
  } catch (err) {
    throw new FlotillaError(
      ErrorCode.INTERNAL,
      `${key} in ${location} is not JSON (${bytes.byteLength} bytes): was it written by something else?`,
      { cause: err },
    );
  }
}

/** Every live record under `prefix`, with its key (a key deleted meanwhile is left out). */
export async function listRecords<T>(
  kv: HaKv,
  prefix: string,
): Promise<Array<{ key: string; value: T }>> {
  const keys = await kv.keys(prefix);
  const out: Array<{ key: string; value: T }> = [];
  for (let start = 0; start < keys.length; start += LIST_WINDOW) {
    const records = await Promise.all(keys.slice(start, start + LIST_WINDOW).map((k) => kv.get(k)));
    for (const record of records) {
      if (record) {
        out.push({
          key: record.key,
          value: decodeRecord<T>(record.value, record.key, kv.location),
        });
      }
    }
  }
  return out;
}

/** Refuses a leader's write with STALE_LEADER once its fence no longer holds. */
export async function checkFence(options: WriteOptions | undefined): Promise<void> {
  await options?.fence?.check();
}

export function requireString(value: unknown, what: string): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new InvalidArgumentError(
      `${what} must be a non-empty string, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function requireTime(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(
      `${what} must be a time in epoch ms, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Byte-for-byte equality of two encoded records. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
