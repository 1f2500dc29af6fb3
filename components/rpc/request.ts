/**
 * A lightweight stand-in for `Request`, built from an envelope, that Hono can route and read
 * without the cost of the runtime's full Request (web streams, header copies). Anything Hono
 * does not use on the hot path falls back to a real Request made on first use.
 */
import type { RequestEnvelope } from "./envelope.ts";
import { EnvelopeHeaders } from "./headers.ts";

const ORIGIN = "http://flotilla";
const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder();

export class EnvelopeRequest {
  readonly method: string;
  readonly url: string;
  readonly envelope: RequestEnvelope;
  #headers: Headers | undefined;
  #real: Request | undefined;
  #signal: AbortSignal | undefined;

  constructor(envelope: RequestEnvelope, signal?: AbortSignal) {
    this.envelope = envelope;
    this.method = envelope.method;
    this.url = ORIGIN + envelope.path;
    this.#signal = signal;
  }

  get headers(): Headers {
    this.#headers ??= new EnvelopeHeaders(this.envelope.headers) as unknown as Headers;
    return this.#headers;
  }

  get signal(): AbortSignal {
    this.#signal ??= new AbortController().signal;
    return this.#signal;
  }

  /** The raw body bytes (empty when there is none). */
  get bytes(): Uint8Array {
    return this.envelope.body ?? EMPTY;
  }

  arrayBuffer(): Promise<ArrayBuffer> {
    const b = this.bytes;
    return Promise.resolve(
      b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer,
    );
  }

  text(): Promise<string> {
    return Promise.resolve(utf8.decode(this.bytes));
  }

  json(): Promise<unknown> {
    return this.text().then((t) => JSON.parse(t));
  }

  blob(): Promise<Blob> {
    return Promise.resolve(new Blob([this.bytes as BlobPart]));
  }

  formData(): Promise<FormData> {
    return this.real().formData();
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.real().body;
  }

  clone(): Request {
    return this.real().clone();
  }

  /** A full Request with the same content, for code that needs more than the hot path. */
  real(): Request {
    const { method, headers, body } = this.envelope;
    this.#real ??= new Request(this.url, {
      method,
      headers,
      body: method === "GET" || method === "HEAD" ? undefined : (body as BodyInit | undefined),
    });
    return this.#real;
  }
}

/** The same envelope, typed as a Request for `app.fetch`. */
export function toRequest(envelope: RequestEnvelope, signal?: AbortSignal): Request {
  return new EnvelopeRequest(envelope, signal) as unknown as Request;
}
