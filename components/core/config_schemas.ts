/**
 * The value types configuration keys are made of (durations, ports, subject-safe names, resource
 * amounts, cluster addresses) and `key()`, which pairs a schema with its default and doc.
 */
import { z } from "zod";

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/** A duration in milliseconds, given as a number (ms) or a string such as "500ms", "5s", "2m". */
export const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const match = typeof value === "number" ? null : DURATION.exec(value.trim());
  const ms =
    typeof value === "number" ? value : match ? Number(match[1]) * UNIT_MS[match[2] ?? "ms"]! : NaN;
  if (!Number.isFinite(ms) || ms < 0) {
    ctx.addIssue({ code: "custom", message: "expected a duration such as 500, '500ms' or '5s'" });
    return z.NEVER;
  }
  return ms;
});

export const port = z.coerce.number().int().min(0).max(65535);
export const subjectToken = z
  .string()
  .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '-' and '_' only");
/** An id that goes into subjects, or empty for "make a fresh one". */
export const optionalName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{0,64}$/, "up to 64 letters, digits, '-' and '_'");
const RESOURCE_PAIRS = /^([A-Za-z0-9_.-]+=\d+(\.\d+)?(,[A-Za-z0-9_.-]+=\d+(\.\d+)?)*)?$/;
/** Named amounts: `gpu=1,fpga=2` (env, flags) or `{"gpu": 1}` (a config file). */
export const resourceAmounts = z.union([
  z
    .string()
    .regex(RESOURCE_PAIRS, "name=amount pairs separated by commas, e.g. gpu=1,fpga=2")
    .transform((text) =>
      Object.fromEntries(
        text
          .split(",")
          .filter(Boolean)
          .map((pair) => {
            const [name, amount] = pair.split("=");
            return [name!, Number(amount)];
          }),
      ),
    ),
  z.record(z.string(), z.number().min(0)),
]);
/** Absolute paths, comma-separated (env, flags) or a list (a config file). */
export const absolutePaths = z
  .union([z.string(), z.array(z.string())])
  .transform((value) =>
    (typeof value === "string" ? value.split(",") : value).map((p) => p.trim()).filter(Boolean),
  )
  .refine((paths) => paths.every((p) => p.startsWith("/")), "absolute paths, comma-separated");

export const clusterAddress = z
  .string()
  .regex(/^((https?|nats|tls):\/\/.+)?$/, "an http://, https://, nats:// or tls:// address");

export interface KeySpec<S extends z.ZodType> {
  schema: S;
  default: z.input<S>;
  doc: string;
}
export const key = <S extends z.ZodType>(schema: S, dflt: z.input<S>, doc: string): KeySpec<S> => ({
  schema,
  default: dflt,
  doc,
});
