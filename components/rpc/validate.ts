/**
 * Request validation with zod that keeps Hono's typing: `body(schema)` reads a CBOR or JSON body
 * (at most 1 MiB unless the route says otherwise, never buffering more), `query(schema)` the query
 * string, `params(schema)` the path; a failure is a 4xx naming what was wrong, and the handler never runs.
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

/** What `body(schema)` reads at most unless the route gives its own `maxBytes`. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

function tooLarge(c: Context, size: string, maxBytes: number, howToChange: string): FlotillaError {
  return new FlotillaError(
    ErrorCode.PAYLOAD_TOO_LARGE,
    `request body of ${size} for ${c.req.method} ${c.req.path} exceeds the limit of ${maxBytes} bytes: ${howToChange}`,
  );
}

/**
 * The request body's bytes, refusing (413) a body over `maxBytes` without holding more than
 * `maxBytes` of it: a declared Content-Length over the limit is refused before reading, and a
 * stream is read only until it passes the limit, then canceled. `howToChange` ends the message.
 */
export async function readBodyBytes(
  c: Context,
  maxBytes: number,
  howToChange = "send a smaller body",
): Promise<Uint8Array> {
  const raw = c.req.raw as Request | EnvelopeRequest;
  if (raw instanceof EnvelopeRequest) {
    const bytes = raw.bytes;
    if (bytes.byteLength > maxBytes)
      throw tooLarge(c, `${bytes.byteLength} bytes`, maxBytes, howToChange);
    return bytes;
  }
  const declared = Number(raw.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) throw tooLarge(c, `${declared} bytes`, maxBytes, howToChange);
  if (!raw.body) return new Uint8Array(0);
  const reader = raw.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      // Stop the sender's bytes here; the server drops what is still on its way.
      await reader.cancel().catch(() => {});
      throw tooLarge(c, `more than ${maxBytes} bytes`, maxBytes, howToChange);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

async function readBody(c: Context, maxBytes: number, emptyAs: unknown): Promise<unknown> {
  const contentType = c.req.header("content-type");
  if (emptyAs !== undefined && (await isEmptyBody(c))) return emptyAs;
  const codec = codecFor(contentType);
  if (!codec) {
    throw new FlotillaError(
      ErrorCode.BAD_REQUEST,
      `unsupported content type ${JSON.stringify(contentType ?? "")}: send application/json or application/cbor`,
    );
  }
  const bytes = await readBodyBytes(
    c,
    maxBytes,
    "send a smaller body (the route sets its limit: body(schema, { maxBytes }))",
  );
  if (bytes.byteLength === 0)
    throw new FlotillaError(ErrorCode.BAD_REQUEST, "request body is empty");
  return decodeBody(codec, bytes);
}

type Validated<Target extends string, S extends z.ZodType> = MiddlewareHandler<
  Env,
  string,
  { in: { [K in Target]: z.input<S> }; out: { [K in Target]: z.output<S> } }
>;

export interface BodyOptions {
  /** The largest body this route reads; a larger one is a 413. @default DEFAULT_BODY_LIMIT_BYTES (1 MiB) */
  maxBytes?: number;
  /**
   * What an absent body stands for (validated like a sent one), as Flink's REST handlers read
   * no body as `{}`. @default undefined: an absent body is a 400
   */
  emptyAs?: unknown;
}

/** No body at all: no bytes declared or sent (a body of whitespace is not empty). */
async function isEmptyBody(c: Context): Promise<boolean> {
  const raw = c.req.raw as Request | EnvelopeRequest;
  if (raw instanceof EnvelopeRequest) return raw.bytes.byteLength === 0;
  if (raw.headers.get("content-length") === "0" || !raw.body) return true;
  return false;
}

/** Hono's own json validator parses JSON before we see it; this reads CBOR or JSON once, itself. */
export function body<S extends z.ZodType>(
  schema: S,
  { maxBytes = DEFAULT_BODY_LIMIT_BYTES, emptyAs }: BodyOptions = {},
): Validated<"json", S> {
  const middleware: MiddlewareHandler = async (c, next) => {
    const value = await readBody(c, maxBytes, emptyAs);
    c.req.addValidatedData("json", check(schema, value, "request body") as object);
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
