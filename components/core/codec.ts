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
  if (media === CBOR_TYPE) return cbor;
  if (media === JSON_TYPE || (media.startsWith("application/") && media.endsWith("+json"))) {
    return json;
  }
  return undefined;
}

/** Decode with a clear BAD_REQUEST error instead of a codec's internal exception. */
export function decodeBody(codec: Codec, bytes: Uint8Array): unknown {
  try {
    return codec.decode(bytes);
  } catch (err) {
    throw new FlotillaError(
      ErrorCode.BAD_REQUEST,
      `malformed ${codec.contentType} body (${bytes.byteLength} bytes): ${(err as Error).message}`,
    );
  }
}
