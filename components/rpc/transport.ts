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
  /**
   * Every reply that comes within `waitMs` (over NATS every subscriber of the subject answers),
   * for a caller that must not act on one answer when several processes may serve the subject
   * (a JobManager being replaced). Rejects when nobody answered; absent on transports that
   * only ever reach one block.
   */
  sendAll?(request: RequestEnvelope, waitMs: number): Promise<ReplyEnvelope[]>;
}

/** Something that answers fetch-style requests: a Hono app, or anything with its `fetch`. */
export interface FetchApp {
  fetch(request: Request, ...rest: unknown[]): Response | Promise<Response>;
}
