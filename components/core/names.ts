/**
 * Every name a cluster puts on the wire or in a store, built in one place: the roles, the NATS
 * subjects each block answers on, the data-plane subjects, the HA bucket and its keys, and the
 * object names of snapshots and savepoints. Nothing else builds a `flotilla.<cluster>...` string.
 */
import { InvalidArgumentError } from "./errors.ts";

/**
 * The four building blocks, one name each, everywhere: subjects, leases, fencing scopes, log
 * fields (`role`), config keys and docs. Prose says "ResourceManager"; identifiers say these.
 */
export const BlockRole = {
  DISPATCHER: "dispatcher",
  RESOURCE_MANAGER: "resourcemanager",
  JOB_MANAGER: "jobmanager",
  TASK_MANAGER: "taskmanager",
} as const;
export type BlockRole = (typeof BlockRole)[keyof typeof BlockRole];

/** The lease the `auto` role's nodes elect their master with (it leases no block by itself). */
export const MASTER_LEASE = "master";

/** Letters, digits, '-' and '_': safe as one NATS subject token and as a KV bucket name. */
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

function token(what: string, value: string | number): string {
  const text = String(value);
  if (!TOKEN.test(text)) {
    throw new InvalidArgumentError(
      `${what} ${JSON.stringify(value)} is not a subject token: use 1-64 letters, digits, '-' or '_'`,
    );
  }
  return text;
}

/** Where a data-plane channel runs: one edge of one job attempt, to one target subtask. */
export interface ChannelAddress {
  clusterId: string;
  jobId: string;
  attempt: number | string;
  /** The job graph edge with its source subtask (e.g. `<source>-<target>-<sourceSubtask>`). */
  edge: number | string;
  targetSubtask: number | string;
}

/** The NATS subjects of a cluster. Singletons answer on `<role>`, instances on `<role>.<id>`. */
export const subjects = {
  /** `flotilla.<clusterId>`: everything of one cluster is under it. */
  cluster: (clusterId: string): string => `flotilla.${token("cluster id", clusterId)}`,
  dispatcher: (clusterId: string): string =>
    `${subjects.cluster(clusterId)}.${BlockRole.DISPATCHER}`,
  resourceManager: (clusterId: string): string =>
    `${subjects.cluster(clusterId)}.${BlockRole.RESOURCE_MANAGER}`,
  jobManager: (clusterId: string, jobId: string): string =>
    `${subjects.cluster(clusterId)}.${BlockRole.JOB_MANAGER}.${token("job id", jobId)}`,
  taskManager: (clusterId: string, tmId: string): string =>
    `${subjects.cluster(clusterId)}.${BlockRole.TASK_MANAGER}.${token("TaskManager id", tmId)}`,
  /** The singleton subject of a leader-elected role (what its lease names as the leader's). */
  leader: (clusterId: string, role: string): string =>
    `${subjects.cluster(clusterId)}.${token("role", role)}`,
  /** `flotilla.<clusterId>.data.<jobId>`: every data-plane subject of one job is under it. */
  jobData: (clusterId: string, jobId: string): string =>
    `${subjects.cluster(clusterId)}.data.${token("channel jobId", jobId)}`,
  /** `flotilla.<clusterId>.data.<jobId>.<attempt>.<edge>.<targetSubtask>`, every part checked. */
  channel: ({ clusterId, jobId, attempt, edge, targetSubtask }: ChannelAddress): string =>
    `${subjects.cluster(clusterId)}.data.${token("channel jobId", jobId)}.${token("channel attempt", attempt)}.${token("channel edge", edge)}.${token("channel targetSubtask", targetSubtask)}`,
} as const;

// ---- the HA bucket: one KV bucket and one object store per cluster ---------------------------

/** The KV bucket holding leases, job graphs, checkpoint pointers and results. */
export function kvBucketName(clusterId: string): string {
  return `flotilla_${bucketSafe(clusterId)}`;
}

/** The object store holding artifacts and state snapshots. */
export function blobBucketName(clusterId: string): string {
  return `flotilla_${bucketSafe(clusterId)}_blobs`;
}

function bucketSafe(clusterId: string): string {
  if (typeof clusterId !== "string" || !/^[-\w]+$/.test(clusterId)) {
    throw new InvalidArgumentError(
      `cluster id ${JSON.stringify(clusterId)} cannot name a JetStream bucket: use letters, digits, "-" and "_"`,
    );
  }
  return clusterId;
}

/** Characters kept as they are in a key token; everything else becomes `=XX` (UTF-8 bytes, hex). */
const KEY_TOKEN_SAFE = /^[-\w]$/;
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Escapes one part of a KV key: `job/1.a` becomes `job=2F1=2Ea`; readable ids stay readable. KV
 * keys are subjects: "." splits tokens, and only letters, digits and "-/_=" are allowed in one.
 */
export function encodeToken(part: string, what = "key part"): string {
  if (typeof part !== "string" || part.length === 0) {
    throw new InvalidArgumentError(
      `${what} must be a non-empty string, got ${JSON.stringify(part)}`,
    );
  }
  let out = "";
  for (const char of part) {
    if (KEY_TOKEN_SAFE.test(char)) {
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
export function decodeToken(encoded: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === "=") {
      bytes.push(Number.parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(encoded.charCodeAt(i));
    }
  }
  return utf8Decoder.decode(new Uint8Array(bytes));
}

/** Key prefixes in the KV bucket: one per kind of record, so each store lists only its own. */
export const KeyPrefix = {
  LEADER: "leader",
  JOBS: "jobs",
  RESULTS: "results",
  CHECKPOINTS: "checkpoints",
} as const;
export type KeyPrefix = (typeof KeyPrefix)[keyof typeof KeyPrefix];

/** `leader.<role>`: the lease of a leader-elected role. */
export function leaderKey(role: string): string {
  return `${KeyPrefix.LEADER}.${encodeToken(role, "role")}`;
}

/** `<prefix>.<jobId>`: a job's record, result, or (as a prefix) its checkpoint pointers. */
export function jobKey(prefix: KeyPrefix, jobId: string): string {
  return `${prefix}.${encodeToken(jobId, "job id")}`;
}

/** `checkpoints.<jobId>.<checkpointId>`: one completed-checkpoint pointer. */
export function checkpointKey(jobId: string, checkpointId: number): string {
  return `${jobKey(KeyPrefix.CHECKPOINTS, jobId)}.${checkpointId}`;
}

// ---- object names in the snapshot store --------------------------------------------------------

/** The metadata object of a checkpoint or savepoint, under its prefix. */
export const SNAPSHOT_METADATA = "_metadata";

/**
 * `checkpoints/<jobId>/<id>` or, for a savepoint (never pruned), `savepoints/<jobId>/<id>`: the
 * directory of one checkpoint's metadata. A savepoint's path is what `flotilla savepoint` prints.
 */
export function snapshotPrefix(jobId: string, checkpointId: number, savepoint: boolean): string {
  return `${savepoint ? "savepoints" : "checkpoints"}/${jobId}/${checkpointId}`;
}

/**
 * `checkpoints/<jobId>/<id>/<vertex>/<subtask>`: one task's snapshot (a task need not know
 * whether its checkpoint is a savepoint, so its snapshot is always under `checkpoints/`).
 */
export function snapshotKey(
  jobId: string,
  checkpointId: number,
  vertexId: string,
  subtask: number,
): string {
  return `checkpoints/${jobId}/${checkpointId}/${vertexId}/${subtask}`;
}

/**
 * Whether `name` is one of a cluster's own credential files (`flotilla cluster secrets` makes
 * only `rest-*`, `nats-*`, `tls-*`, `metrics-*` and `prometheus-*` files): mounted beside a job's
 * secrets, never one of them (job code holding the metrics token would read every job's series).
 */
export function isClusterCredentialName(name: string): boolean {
  return /^(rest|nats|tls|metrics|prometheus)-/.test(name);
}

/** What a job secret may be called: a file name of letters, digits, `_ . -`, not a credential's. */
export const JOB_SECRET_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * The hidden command of the flotilla executable that runs a Dispatcher's graph sandbox
 * (dataflow/runtime/graph_worker.ts); bin/flotilla.js names it too.
 */
export const GRAPH_WORKER_COMMAND = "graph-worker";

/**
 * The hidden command a TaskManager starts one job process per job with: the job's subtasks run
 * there, not in the TaskManager (taskmanager/job_process/); bin/flotilla.js names it too.
 */
export const JOB_PROCESS_COMMAND = "job-process";
