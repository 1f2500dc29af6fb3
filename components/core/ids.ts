/**
 * Identifiers of the things a cluster tracks. Each is a branded string so a TaskManager id cannot
 * be passed where a job id is expected; `parse*` turns untrusted input into one or throws.
 */
import { InvalidArgumentError } from "./errors.ts";

declare const brand: unique symbol;
type Id<Kind extends string> = string & { readonly [brand]: Kind };

export type JobId = Id<"JobId">;
export type TaskManagerId = Id<"TaskManagerId">;
export type SlotId = Id<"SlotId">;
export type AllocationId = Id<"AllocationId">;
export type AttemptId = Id<"AttemptId">;

/** 32 lowercase hex digits, like Flink's JobID. */
const JOB_ID = /^[0-9a-f]{32}$/;
/** Short, subject-safe ids for runtime objects: letters, digits, '-' and '_'. */
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

function randomHex(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  let out = "";
  for (const b of buf) out += b.toString(16).padStart(2, "0");
  return out;
}

export function newJobId(): JobId {
  return randomHex(16) as JobId;
}

export function newTaskManagerId(): TaskManagerId {
  return `tm-${randomHex(6)}` as TaskManagerId;
}

export function newAllocationId(): AllocationId {
  return `alloc-${randomHex(8)}` as AllocationId;
}

/** A slot is named by its TaskManager and its index in that TaskManager's slot table. */
export function slotId(tm: TaskManagerId, index: number): SlotId {
  return `${tm}_${index}` as SlotId;
}

/** An execution attempt of one subtask: `<vertex>_<subtask>_<attempt>`. */
export function attemptId(vertex: string, subtask: number, attempt: number): AttemptId {
  return `${vertex}_${subtask}_${attempt}` as AttemptId;
}

/**
 * A vertex's id as Flink's REST API spells one: 32 lowercase hex digits, derived from the
 * flotilla vertex id (`<position>-<kind>` or the user's `.uid()`), the way Flink hashes a uid
 * into a JobVertexID. Stable across attempts, runs and processes; not a secret, so a fast hash
 * (four FNV-1a lanes) does.
 */
export function vertexHexId(vertexId: string): string {
  let out = "";
  for (const seed of [0x811c9dc5, 0x050c5d1f, 0x2166136b, 0x6a09e667]) {
    let h = seed;
    for (let i = 0; i < vertexId.length; i++) {
      h ^= vertexId.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    out += (h >>> 0).toString(16).padStart(8, "0");
  }
  return out;
}

export function isJobId(value: unknown): value is JobId {
  return typeof value === "string" && JOB_ID.test(value);
}

export function parseJobId(value: unknown): JobId {
  if (isJobId(value)) return value;
  throw new InvalidArgumentError(
    `invalid job id ${JSON.stringify(value)}: expected 32 lowercase hex digits, as printed by 'flotilla list'`,
  );
}

function parseToken<T extends string>(kind: string, value: unknown): T {
  if (typeof value === "string" && TOKEN.test(value)) return value as T;
  throw new InvalidArgumentError(
    `invalid ${kind} ${JSON.stringify(value)}: expected 1-64 letters, digits, '-' or '_'`,
  );
}

export const parseTaskManagerId = (value: unknown): TaskManagerId =>
  parseToken("TaskManager id", value);
export const parseSlotId = (value: unknown): SlotId => parseToken("slot id", value);
export const parseAllocationId = (value: unknown): AllocationId =>
  parseToken("allocation id", value);
export const parseAttemptId = (value: unknown): AttemptId => parseToken("attempt id", value);
