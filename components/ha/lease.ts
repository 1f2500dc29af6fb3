/**
 * The lease a leader keeps under `leader.<role>`: who holds it, where it serves, its term, and
 * when it ends. The expiry lives in the value because nats-server before 2.11 has no per-key TTL,
 * so a reader caps what the value claims (`leaseEnd`): a forged expiry cannot outlast its write.
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

/**
 * The longest lease a reader honours, whatever a lease says (unless its own configured lease is
 * longer): a lease written with an absurd `leaseMs` or `expiresAt` makes standbys wait this long
 * at most after its write, rather than for ever.
 */
export const MAX_LEASE_MS = 10 * 60_000;

const isFiniteNumber = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n);

/** The lease in a record, or undefined for anything that is not one. */
export function decodeLease(bytes: Uint8Array): LeaseValue | undefined {
  try {
    const value = json.decode(bytes) as Partial<LeaseValue> | null;
    if (
      !value ||
      typeof value.holder !== "string" ||
      typeof value.subject !== "string" ||
      !isFiniteNumber(value.term) ||
      !isFiniteNumber(value.expiresAt)
    ) {
      return undefined;
    }
    return {
      holder: value.holder,
      subject: value.subject,
      term: value.term,
      expiresAt: value.expiresAt,
      leaseMs: isFiniteNumber(value.leaseMs) && value.leaseMs > 0 ? value.leaseMs : 0,
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

/**
 * The lease length a reader waits for: the written one, at least the reader's own `leaseMs`
 * (it cannot know better than its configuration) and at most `MAX_LEASE_MS` (or its own, if longer).
 */
export function honouredLeaseMs(lease: LeaseValue, ownLeaseMs: number): number {
  return Math.min(Math.max(lease.leaseMs, ownLeaseMs), Math.max(MAX_LEASE_MS, ownLeaseMs));
}

/**
 * The wall-clock end (epoch ms) a reader believes of a lease written at `writtenAt` (the store's
 * timestamp of the write, or when this reader first saw it): the written `expiresAt`, but never
 * later than `writtenAt` plus the honoured lease length.
 */
export function leaseEnd(lease: LeaseValue, writtenAt: number, ownLeaseMs: number): number {
  return Math.min(lease.expiresAt, writtenAt + honouredLeaseMs(lease, ownLeaseMs));
}
