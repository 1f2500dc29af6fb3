/**
 * The CBOR envelope that carries an HTTP-shaped call over NATS (DESIGN.md section 3):
 * request `{method, path, headers, body}`, reply `{status, headers, body}`. Bodies are bytes whose
 * Content-Type (CBOR or JSON) says how to read them. A request's path and headers are bounded
 * like an HTTP server's (`ENVELOPE_LIMITS`); its body is bounded by NATS's max_payload and the route.
 */
import { cbor, ErrorCode, FlotillaError, plainCbor, type WireError } from "../core/mod.ts";

export type HeaderMap = Record<string, string>;

export interface RequestEnvelope {
  method: string;
  /** Path and query, e.g. `/jobs/abc?mode=cancel`. */
  path: string;
  headers: HeaderMap;
  body?: Uint8Array | undefined;
}

export interface ReplyEnvelope {
  status: number;
  headers: HeaderMap;
  body?: Uint8Array | undefined;
}

/** Header with the caller's absolute deadline (epoch ms), so a server can see how long it has. */
export const DEADLINE_HEADER = "flotilla-deadline";

const METHOD = /^[A-Z]{3,7}$/;

/**
 * What a request envelope may carry besides its body: as many header bytes as Node's HTTP server
 * takes (16 KiB, its maxHeaderSize), names and values counted together, in characters.
 */
export const ENVELOPE_LIMITS = {
  maxHeaders: 64,
  maxHeaderSize: 16 * 1024,
  maxPathLength: 8 * 1024,
} as const;

function isHeaderMap(value: unknown): value is HeaderMap {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  for (const v of Object.values(value)) if (typeof v !== "string") return false;
  return true;
}

/** Why a header map is over `ENVELOPE_LIMITS`, or undefined when it is within them. */
function headersOverLimits(headers: HeaderMap): string | undefined {
  const { maxHeaders, maxHeaderSize } = ENVELOPE_LIMITS;
  const names = Object.keys(headers);
  if (names.length > maxHeaders) {
    return `${names.length} headers, more than the limit of ${maxHeaders}`;
  }
  let size = 0;
  for (const name of names) size += name.length + headers[name]!.length;
  if (size > maxHeaderSize) {
    return `${size} characters of headers (names and values), more than the limit of ${maxHeaderSize}`;
  }
  return undefined;
}

function badEnvelope(why: string): FlotillaError {
  return new FlotillaError(ErrorCode.BAD_ENVELOPE, `bad request envelope: ${why}`);
}

export function encodeRequest(envelope: RequestEnvelope): Uint8Array {
  return cbor.encode(envelope);
}

/** Decodes and checks a request envelope; anything else is a BAD_ENVELOPE error. */
export function decodeRequest(bytes: Uint8Array): RequestEnvelope {
  let value: unknown;
  try {
    value = plainCbor.decode(bytes);
  } catch (err) {
    throw badEnvelope(`not CBOR (${bytes.byteLength} bytes): ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null) throw badEnvelope("expected a CBOR map");
  const { method, path, headers = {}, body } = value as Partial<RequestEnvelope>;
  if (typeof method !== "string" || !METHOD.test(method)) {
    throw badEnvelope(
      `'method' must be an upper-case HTTP method, got ${JSON.stringify(method)?.slice(0, 100)}`,
    );
  }
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw badEnvelope(`'path' must start with '/', got ${JSON.stringify(path)?.slice(0, 100)}`);
  }
  if (path.length > ENVELOPE_LIMITS.maxPathLength) {
    throw badEnvelope(
      `'path' of ${path.length} characters is over the limit of ${ENVELOPE_LIMITS.maxPathLength}`,
    );
  }
  if (!isHeaderMap(headers)) throw badEnvelope("'headers' must map names to strings");
  const over = headersOverLimits(headers);
  if (over) throw badEnvelope(over);
  if (body !== undefined && body !== null && !(body instanceof Uint8Array)) {
    throw badEnvelope("'body' must be a byte string");
  }
  return { method, path, headers, body: body ?? undefined };
}

export function encodeReply(envelope: ReplyEnvelope): Uint8Array {
  return cbor.encode(envelope);
}

export function decodeReply(bytes: Uint8Array): ReplyEnvelope {
  let value: unknown;
  try {
    value = plainCbor.decode(bytes);
  } catch (err) {
    throw new FlotillaError(
      ErrorCode.INTERNAL,
      `reply is not a CBOR envelope: ${(err as Error).message}`,
    );
  }
  const { status, headers = {}, body } = (value ?? {}) as Partial<ReplyEnvelope>;
  if (typeof status !== "number" || !isHeaderMap(headers)) {
    throw new FlotillaError(ErrorCode.INTERNAL, "reply envelope lacks a numeric status or headers");
  }
  return { status, headers, body: body instanceof Uint8Array ? body : undefined };
}

/** An error reply envelope with a CBOR `{errors, code}` body. */
export function errorReply(error: FlotillaError): ReplyEnvelope {
  const wire: WireError = error.toWire();
  return {
    status: error.status,
    headers: { "content-type": cbor.contentType },
    body: cbor.encode(wire),
  };
}
