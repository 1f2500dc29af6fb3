/**
 * The lease a leader keeps under `leader.<role>`: who holds it, where it serves, its term, and
 * when it ends. The expiry lives in the value because nats-server before 2.11 has no per-key TTL.
 */
import { json } from "../core/mod.ts";
import type { KvRecord } from "./kv.ts";

export interface LeaseValue {
  holder: string;
  subject: string;
  term: number;
  /** Wall-clock end of the lease (epoch ms), as the holder computed it when writing. */
  expiresAt: number;
  /** The lease length the holder steps down by; standbys wait at least this long. */
  leaseMs: number;
  /** The term's fencing token, written by renewals (the winning write cannot know its revision). */
  token?: number;
  /** The outer lease the holder's leadership lives under (LeaderElectionOptions.under). */
  under?: string;
}

export function encodeLease(value: LeaseValue): Uint8Array {
  return json.encode(value);
}

/** The lease in a record, or undefined for anything that is not one. */
export function decodeLease(bytes: Uint8Array): LeaseValue | undefined {
  try {
    const value = json.decode(bytes) as Partial<LeaseValue> | null;
    if (
      !value ||
      typeof value.holder !== "string" ||
      typeof value.subject !== "string" ||
      typeof value.term !== "number" ||
      typeof value.expiresAt !== "number"
    ) {
      return undefined;
    }
    return {
      holder: value.holder,
      subject: value.subject,
      term: value.term,
      expiresAt: value.expiresAt,
      leaseMs: typeof value.leaseMs === "number" ? value.leaseMs : 0,
      ...(typeof value.token === "number" ? { token: value.token } : {}),
      ...(typeof value.under === "string" ? { under: value.under } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The fencing token of the term a lease record belongs to. */
export function tokenOf(record: KvRecord, lease = decodeLease(record.value)): number | undefined {
  if (!lease) return undefined;
  return lease.token ?? record.revision;
}
