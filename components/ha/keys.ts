/**
 * Names in the HA bucket: one KV bucket and one object store per cluster, and keys whose parts are
 * escaped so any job id or role name is a valid NATS KV token (KV keys are subjects: "." splits
 * tokens, and only letters, digits and "-/_=" are allowed inside one).
 */
import { InvalidArgumentError } from "../core/mod.ts";

const BUCKET_SAFE = /^[-\w]+$/;
/** Characters kept as they are in a key token; everything else becomes `=XX` (UTF-8 bytes, hex). */
const TOKEN_SAFE = /^[-\w]$/;

function checkClusterId(clusterId: string): string {
  if (typeof clusterId !== "string" || !BUCKET_SAFE.test(clusterId)) {
    throw new InvalidArgumentError(
      `cluster id ${JSON.stringify(clusterId)} cannot name a JetStream bucket: use letters, digits, "-" and "_"`,
    );
  }
  return clusterId;
}

/** The KV bucket holding leases, job graphs, checkpoint pointers and results. */
export function kvBucketName(clusterId: string): string {
  return `flotilla_${checkClusterId(clusterId)}`;
}

/** The object store holding artifacts and state snapshots. */
export function blobBucketName(clusterId: string): string {
  return `flotilla_${checkClusterId(clusterId)}_blobs`;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/** Escapes one part of a key: `job/1.a` becomes `job=2F1=2Ea`; readable ids stay readable. */
export function encodeToken(part: string, what = "key part"): string {
  if (typeof part !== "string" || part.length === 0) {
    throw new InvalidArgumentError(
      `${what} must be a non-empty string, got ${JSON.stringify(part)}`,
    );
  }
  let out = "";
  for (const char of part) {
    if (TOKEN_SAFE.test(char)) {
      out += char;
      continue;
    }
    for (const byte of utf8.encode(char)) {
      out += `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    }
  }
  return out;
}

/** The inverse of `encodeToken`. */
export function decodeToken(token: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    if (token[i] === "=") {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(token.charCodeAt(i));
    }
  }
  return utf8Decoder.decode(new Uint8Array(bytes));
}

/** Key prefixes: one per kind of record, so each store lists only its own keys. */
export const KeyPrefix = {
  LEADER: "leader",
  JOBS: "jobs",
  RESULTS: "results",
  CHECKPOINTS: "checkpoints",
} as const;
export type KeyPrefix = (typeof KeyPrefix)[keyof typeof KeyPrefix];

export function leaderKey(role: string): string {
  return `${KeyPrefix.LEADER}.${encodeToken(role, "role")}`;
}

export function jobKey(prefix: KeyPrefix, jobId: string): string {
  return `${prefix}.${encodeToken(jobId, "job id")}`;
}

export function checkpointKey(jobId: string, checkpointId: number): string {
  return `${jobKey(KeyPrefix.CHECKPOINTS, jobId)}.${checkpointId}`;
}
