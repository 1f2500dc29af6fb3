/**
 * Replies without the runtime's full Response on the NATS and in-process paths: `reply()` hands
 * back a `ValueResponse` that keeps the value and encodes it once, in the codec the caller
 * accepts. Over HTTP it is an ordinary Hono response (JSON, or CBOR when asked for).
 */
import type { Context, TypedResponse } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { CBOR_TYPE, type Codec, cbor, json } from "../core/mod.ts";
import type { HeaderMap, ReplyEnvelope } from "./envelope.ts";
import { EnvelopeRequest } from "./request.ts";

/** CBOR when the caller accepts it, JSON otherwise (people, curl, browsers). */
export function negotiate(accept: string | null | undefined): Codec {
  return accept?.includes(CBOR_TYPE) ? cbor : json;
}

export class ValueResponse {
  readonly value: unknown;
  readonly status: number;
  readonly statusText = "";
  readonly codec: Codec;
  readonly extraHeaders: HeaderMap | undefined;
  #bytes: Uint8Array | undefined;
  #headers: Headers | undefined;
  #real: Response | undefined;

  constructor(value: unknown, status: number, codec: Codec, extraHeaders?: HeaderMap) {
    this.value = value;
    this.status = status;
    this.codec = codec;
    this.extraHeaders = extraHeaders;
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  get bodyUsed(): boolean {
    return false;
  }

  /** Headers as a plain map; reflects changes a middleware made through `headers`. */
  headerMap(): HeaderMap {
    if (this.#headers) return Object.fromEntries(this.#headers);
    return { ...this.extraHeaders, "content-type": this.codec.contentType };
  }

  get headers(): Headers {
    this.#headers ??= new Headers(this.headerMap());
    return this.#headers;
  }

  bytes(): Uint8Array {
    this.#bytes ??= this.codec.encode(this.value);
    return this.#bytes;
  }

  json(): Promise<unknown> {
    return Promise.resolve(this.codec.decode(this.bytes()));
  }

  text(): Promise<string> {
    return Promise.resolve(new TextDecoder().decode(this.bytes()));
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    return this.real().arrayBuffer();
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.real().body;
  }

  clone(): Response {
    return this.real().clone();
  }

  real(): Response {
    this.#real ??= new Response(this.bytes() as BodyInit, {
      status: this.status,
      headers: this.headers,
    });
    return this.#real;
  }
}

/**
 * Reply with a value, typed for the client. Prefer it to `c.json` in block APIs: over NATS and
 * in-process it skips the Response machinery and sends CBOR to internal callers.
 */
export function reply<T, S extends ContentfulStatusCode = 200>(
  c: Context,
  value: T,
  status?: S,
  headers?: HeaderMap,
): Response & TypedResponse<T, S, "json"> {
  const code = status ?? 200;
  const codec = negotiate(c.req.header("accept"));
  if (c.req.raw instanceof EnvelopeRequest) {
    return new ValueResponse(value, code, codec, headers) as unknown as Response &
      TypedResponse<T, S, "json">;
  }
  const body = codec.encode(value);
  return c.body(body as unknown as ArrayBuffer, code, {
    ...headers,
    "content-type": codec.contentType,
  }) as unknown as Response & TypedResponse<T, S, "json">;
}

/** A `reply()` answer as a reply envelope, synchronously (the hot path of every block call). */
export function valueReplyEnvelope(res: ValueResponse): ReplyEnvelope {
  return { status: res.status, headers: res.headerMap(), body: res.bytes() };
}

/** Whatever the app answered, as a reply envelope. */
export async function toReplyEnvelope(res: Response | ValueResponse): Promise<ReplyEnvelope> {
  if (res instanceof ValueResponse) return valueReplyEnvelope(res);
  const headers: HeaderMap = {};
  res.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const body = res.body ? new Uint8Array(await res.arrayBuffer()) : undefined;
  return { status: res.status, headers, body: body?.byteLength ? body : undefined };
}
