/** The client side of Hono-over-NATS: one request/reply per attempt, errors mapped to codes. */
import { type Msg, type NatsConnection, errors as natsErrors } from "@nats-io/transport-node";
import { ErrorCode, FlotillaError, TimeoutError, UnavailableError } from "../core/mod.ts";
import {
  decodeReply,
  encodeRequest,
  type ReplyEnvelope,
  type RequestEnvelope,
} from "./envelope.ts";
import type { Transport } from "./transport.ts";

export interface NatsTransportOptions {
  /** How long after a reconnect a "no responders" is treated as transient. @default 2000 */
  reconnectGraceMs?: number;
}

/** Marks a "no responders" so callers can tell it from a dropped connection. */
export class NoRespondersError extends UnavailableError {
  override name = "NoRespondersError";
}

const lastReconnect = new WeakMap<NatsConnection, number>();

function watchReconnects(nc: NatsConnection): void {
  if (lastReconnect.has(nc)) return;
  lastReconnect.set(nc, 0);
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "reconnect") lastReconnect.set(nc, Date.now());
    }
  })().catch(() => {});
}

export function mapNatsError(err: unknown, subject: string, timeoutMs: number): FlotillaError {
  if (err instanceof FlotillaError) return err;
  if (err instanceof natsErrors.TimeoutError) {
    return new TimeoutError(`no reply from ${subject} within ${timeoutMs} ms`, { cause: err });
  }
  if (err instanceof natsErrors.RequestError && err.isNoResponders()) {
    return new NoRespondersError(`no service is listening on ${subject}`, { cause: err });
  }
  if (err instanceof natsErrors.NoRespondersError) {
    return new NoRespondersError(`no service is listening on ${subject}`, { cause: err });
  }
  if (err instanceof natsErrors.ClosedConnectionError) {
    return new UnavailableError(`NATS connection is closed (calling ${subject})`, { cause: err });
  }
  if (err instanceof natsErrors.RequestError) {
    return new UnavailableError(`NATS request to ${subject} failed: ${err.message}`, {
      cause: err,
    });
  }
  if (err instanceof natsErrors.InvalidArgumentError && /max_payload/.test(err.message)) {
    return new FlotillaError(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `request to ${subject} exceeds max_payload`,
    );
  }
  return new UnavailableError(`NATS request to ${subject} failed: ${(err as Error).message}`, {
    cause: err,
  });
}

/**
 * `nc.request` with stack capture off. nats.js makes two Errors per request only to carry the
 * caller's stack ("async traces"), and capturing them was over a third of a call's client CPU
 * (measured in test/bench/rpc.ts). Every error a caller sees is made by `mapNatsError` where the
 * reply is awaited, so it has that stack anyway, with the nats.js error as its `cause`.
 */
function requestUntraced(
  nc: NatsConnection,
  subject: string,
  data: Uint8Array,
  timeout: number,
): Promise<Msg> {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return nc.request(subject, data, { timeout });
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export function natsTransport(
  nc: NatsConnection,
  subject: string,
  { reconnectGraceMs = 2000 }: NatsTransportOptions = {},
): Transport {
  watchReconnects(nc);
  return {
    target: subject,
    settling: () => Date.now() - (lastReconnect.get(nc) ?? 0) < reconnectGraceMs,
    async send(request: RequestEnvelope, timeoutMs: number): Promise<ReplyEnvelope> {
      const data = encodeRequest(request);
      const max = nc.info?.max_payload;
      if (max !== undefined && data.byteLength > max) {
        throw new FlotillaError(
          ErrorCode.PAYLOAD_TOO_LARGE,
          `request of ${data.byteLength} bytes to ${subject} exceeds the NATS server's max_payload of ${max} bytes`,
        );
      }
      let reply: Uint8Array;
      try {
        reply = (await requestUntraced(nc, subject, data, Math.max(1, Math.ceil(timeoutMs)))).data;
      } catch (err) {
        throw mapNatsError(err, subject, timeoutMs);
      }
      return decodeReply(reply);
    },
    async sendAll(request: RequestEnvelope, waitMs: number): Promise<ReplyEnvelope[]> {
      const replies: ReplyEnvelope[] = [];
      try {
        const wait = Math.max(1, Math.ceil(waitMs));
        const msgs = await nc.requestMany(subject, encodeRequest(request), {
          strategy: "timer",
          maxWait: wait,
        });
        for await (const msg of msgs) replies.push(decodeReply(msg.data));
      } catch (err) {
        throw mapNatsError(err, subject, waitMs);
      }
      if (replies.length === 0)
        throw new TimeoutError(`no reply from ${subject} within ${Math.ceil(waitMs)} ms`);
      return replies;
    },
  };
}
