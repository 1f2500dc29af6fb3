/**
 * One codec interface for every body on the wire: CBOR (cbor-x) for internal calls, JSON for
 * people. Callers pick one by content type and never care which it is.
 */
import { Decoder, Encoder } from "cbor-x";
import { ErrorCode, FlotillaError } from "./errors.ts";

export interface Codec {
  readonly contentType: string;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

export const CBOR_TYPE = "application/cbor";
export const JSON_TYPE = "application/json";

// Plain maps (not records or structured clones), so any CBOR peer can read what we write.
const cborEncoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });
const cborDecoder = new Decoder({ useRecords: false, mapsAsObjects: true });

export const cbor: Codec = {
  contentType: CBOR_TYPE,
  encode: (value) => cborEncoder.encode(value),
  decode: (bytes) => cborDecoder.decode(bytes),
};

/** How deep a decoded message may nest (a cycle, which CBOR's shared references can make, is infinitely deep). */
export const MAX_PLAIN_DEPTH = 64;

/**
 * Why `value` is not plain data, or undefined when it is: null, booleans, numbers, bigints,
 * strings, byte strings, dates, and arrays and plain objects of those, at most `MAX_PLAIN_DEPTH`
 * deep. CBOR tags can make a decoder build other things (Error, RegExp, Set, Map, typed arrays,
 * its own Tag objects, cyclic values); on the wire between blocks those are refused.
 */
export function notPlainData(value: unknown, depth = 0): string | undefined {
  if (value === null || value === undefined) return undefined;
  const type = typeof value;
  if (type === "function" || type === "symbol") return `a ${type}`;
  if (type !== "object") return undefined;
  if (depth >= MAX_PLAIN_DEPTH) return `nesting deeper than ${MAX_PLAIN_DEPTH} (or a cycle)`;
  if (value instanceof Uint8Array || value instanceof Date) return undefined;
  if (Array.isArray(value)) {
    for (const item of value) {
      const why = notPlainData(item, depth + 1);
      if (why) return why;
    }
    return undefined;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null)
    return `a ${(value as { constructor?: { name?: string } }).constructor?.name || "tagged value"}`;
  for (const key in value) {
    const why = notPlainData((value as Record<string, unknown>)[key], depth + 1);
    if (why) return why;
  }
  return undefined;
}

/**
 * CBOR between blocks: as `cbor`, but a decoded value that is not plain data (`notPlainData`) is
 * an error naming what it held. Snapshots of a job's state, which are its own values, use `cbor`.
 */
export const plainCbor: Codec = {
  contentType: CBOR_TYPE,
  encode: (value) => cborEncoder.encode(value),
  decode(bytes) {
    const value = cborDecoder.decode(bytes);
    const why = notPlainData(value);
    if (why)
      throw new FlotillaError(
        ErrorCode.BAD_REQUEST,
        `CBOR here is plain data only: it held ${why}`,
      );
    return value;
  },
};

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

export const json: Codec = {
  contentType: JSON_TYPE,
  encode: (value) => utf8Encoder.encode(JSON.stringify(value)),
  decode: (bytes) => JSON.parse(utf8Decoder.decode(bytes)),
};

/** The codec for a Content-Type header value, or undefined for anything else. */
export function codecFor(contentType: string | null | undefined): Codec | undefined {
  if (!contentType) return undefined;
  const media = contentType.split(";", 1)[0]!.trim().toLowerCase();
  if (media === CBOR_TYPE) return plainCbor;
  if (media === JSON_TYPE || (media.startsWith("application/") && media.endsWith("+json"))) {
    return json;
  }
  return undefined;
}

/** Decode with a clear BAD_REQUEST error instead of a codec's internal exception. */
export function decodeBody(codec: Codec, bytes: Uint8Array): unknown {
  try {
    const value = codec.decode(bytes);
    // JSON.parse builds plain data only, but as deep as it is sent: bound it as plainCbor does.
    const why = codec === json ? notPlainData(value) : undefined;
    if (why) throw new Error(`JSON here is plain data only: it held ${why}`);
    return value;
  } catch (err) {
    throw new FlotillaError(
      ErrorCode.BAD_REQUEST,
      `malformed ${codec.contentType} body (${bytes.byteLength} bytes): ${(err as Error).message}`,
    );
  }
}
