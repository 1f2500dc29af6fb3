/**
 * What every block's contract is made of: id and subject schemas for untrusted input, the
 * answer of a notice, and the shape of a handler. Imports nothing but core and zod.
 */
import { z } from "zod";
import {
  type AllocationId,
  isClusterCredentialName,
  isJobId,
  JOB_SECRET_NAME,
  type JobId,
  type SlotId,
  type TaskManagerId,
} from "../core/mod.ts";

/** What a handler returns: the reply body, at once or later. */
export type Answer<T> = T | Promise<T>;

/** The reply to a notice (a report or a piece of news) that needs no other answer. */
export interface Acknowledged {
  acknowledged: true;
}
export const ACKNOWLEDGED: Acknowledged = Object.freeze({ acknowledged: true as const });

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const token = (what: string) =>
  z.string().regex(TOKEN, `expected a ${what} of 1-64 letters, digits, '-' or '_'`);

export const taskManagerIdSchema = token("TaskManager id").transform((v) => v as TaskManagerId);
export const slotIdSchema = token("slot id").transform((v) => v as SlotId);
export const allocationIdSchema = token("allocation id").transform((v) => v as AllocationId);
export const jobIdSchema = z
  .string()
  .refine(isJobId, "expected a job id of 32 lowercase hex digits, as `flotilla list` prints")
  .transform((v) => v as JobId);
/** A vertex of a job graph (`<position>-<kind>`, or a `.uid()` the user pinned). */
export const vertexIdSchema = z.string().min(1).max(256);
/** The sha256 of an artifact, as `POST /artifacts` returns it. */
export const artifactIdSchema = z
  .string()
  .regex(/^[0-9a-f]{64}$/, "an artifact id is the sha256 of its bytes, as POST /artifacts returns");
/** A NATS subject (or in-process name): tokens separated by dots, no spaces or wildcards. */
export const subjectSchema = z
  .string()
  .max(512)
  .regex(
    /^[^\s.*>]+(\.[^\s.*>]+)*$/,
    "expected a NATS subject such as flotilla.default.taskmanager.tm-1",
  );
/**
 * A job's own secrets, by name (`env.secret(name)` reads them): at most 64, each under 64 KiB,
 * named as files may be and never like the cluster's own credentials (`rest-*`, `nats-*`,
 * `tls-*`, `metrics-*`, `prometheus-*`).
 */
export const jobSecretsSchema = z
  .record(z.string(), z.string().max(65_536))
  .superRefine((secrets, ctx) => {
    const names = Object.keys(secrets);
    if (names.length > 64)
      ctx.addIssue({ code: "custom", message: `at most 64 secrets per job, got ${names.length}` });
    for (const name of names.slice(0, 65)) {
      const message = !JOB_SECRET_NAME.test(name)
        ? `a secret's name is 1-128 letters, digits, '_', '.' or '-', got ${JSON.stringify(name.slice(0, 64))}`
        : isClusterCredentialName(name)
          ? "rest-*, nats-*, tls-*, metrics-* and prometheus-* name the cluster's own credentials, not a job's secrets"
          : undefined;
      if (message) ctx.addIssue({ code: "custom", path: [name], message });
    }
  });

/** A job attempt: each restart or rescale deploys the next one. */
export const attemptSchema = z.number().int().min(0);
export const subtaskSchema = z.number().int().min(0);
export const checkpointIdSchema = z.number().int().min(1);

export const tmIdParamSchema = z.object({ tmId: taskManagerIdSchema });
export const jobIdParamSchema = z.object({ jobId: jobIdSchema });
export const slotIdParamSchema = z.object({ slotId: slotIdSchema });

/** Compile-time check that a schema's output is exactly its contract type. */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
export const same = <A, B>(ok: Same<A, B>): Same<A, B> => ok;
