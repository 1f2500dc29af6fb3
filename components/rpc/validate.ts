/**
 * Request validation with zod that keeps Hono's typing: `body(schema)` reads a CBOR or JSON body,
 * `query(schema)` the query string, `params(schema)` the path; a failure is a 400 naming the
 * field and what was wrong, and the handler never runs.
 */
import type { Context, Env, MiddlewareHandler } from "hono";
import { validator } from "hono/validator";
import type { z } from "zod";
import { codecFor, decodeBody, ErrorCode, FlotillaError } from "../core/mod.ts";
import { EnvelopeRequest } from "./request.ts";

function describe(error: z.ZodError, where: string): string {
  return error.issues
    .map((issue) => {
      const at = issue.path.length ? `'${issue.path.join(".")}'` : where;
      return `${at}: ${issue.message}`;
    })
    .join("; ");
}

function check<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new FlotillaError(
      ErrorCode.BAD_REQUEST,
      `invalid ${where}: ${describe(parsed.error, where)}`,
    );
  }
  return parsed.data;
}

async function readBody(c: Context): Promise<unknown> {
  const contentType = c.req.header("content-type");
  const codec = codecFor(contentType);
  if (!codec) {
    throw new FlotillaError(
      ErrorCode.BAD_REQUEST,
      `unsupported content type ${JSON.stringify(contentType ?? "")}: send application/json or application/cbor`,
    );
  }
  const raw = c.req.raw as Request | EnvelopeRequest;
  const bytes =
    raw instanceof EnvelopeRequest ? raw.bytes : new Uint8Array(await c.req.arrayBuffer());
  if (bytes.byteLength === 0)
    throw new FlotillaError(ErrorCode.BAD_REQUEST, "request body is empty");
  return decodeBody(codec, bytes);
}

type Validated<Target extends string, S extends z.ZodType> = MiddlewareHandler<
  Env,
  string,
  { in: { [K in Target]: z.input<S> }; out: { [K in Target]: z.output<S> } }
>;

/** Hono's own json validator parses JSON before we see it; this reads CBOR or JSON once, itself. */
export function body<S extends z.ZodType>(schema: S): Validated<"json", S> {
  const middleware: MiddlewareHandler = async (c, next) => {
    c.req.addValidatedData("json", check(schema, await readBody(c), "request body") as object);
    await next();
  };
  return middleware as unknown as Validated<"json", S>;
}

export function query<S extends z.ZodType>(schema: S): Validated<"query", S> {
  return validator("query", (value) => check(schema, value, "query")) as unknown as Validated<
    "query",
    S
  >;
}

export function params<S extends z.ZodType>(schema: S): Validated<"param", S> {
  return validator("param", (value) => check(schema, value, "path")) as unknown as Validated<
    "param",
    S
  >;
}
