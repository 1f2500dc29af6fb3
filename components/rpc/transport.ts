/**
 * How a client's envelope reaches a block: over NATS, over HTTP, or in-process. A transport makes
 * one attempt within the time it is given; retries and deadlines belong to the client.
 */
import type { ReplyEnvelope, RequestEnvelope } from "./envelope.ts";

export interface Transport {
  /** Where calls go, for error messages: a subject, a URL, or "in-process". */
  readonly target: string;
  /** One attempt; rejects with a FlotillaError (UNAVAILABLE, TIMEOUT, PAYLOAD_TOO_LARGE, ...). */
  send(request: RequestEnvelope, timeoutMs: number): Promise<ReplyEnvelope>;
  /**
   * True shortly after the connection (re)connected, while subscriptions may still be
   * propagating: a "no responders" then is worth retrying rather than reporting.
   */
  settling?(): boolean;
}

/** Something that answers fetch-style requests: a Hono app, or anything with its `fetch`. */
export interface FetchApp {
  fetch(request: Request, ...rest: any[]): Response | Promise<Response>;
}
