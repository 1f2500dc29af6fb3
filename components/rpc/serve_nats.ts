/**
 * Serves a Hono app on a NATS subject: each message is a request envelope, each reply a reply
 * envelope. Singletons share a queue group so a standby never answers twice. Garbage gets an
 * error reply (logged rate-limited, counted in `rejectionMetrics`) and the service keeps serving;
 * a reply too large for NATS becomes a clear error.
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { ErrorCode, FlotillaError, type Logger, silentLogger } from "../core/mod.ts";
import { decodeRequest, encodeReply, errorReply, type RequestEnvelope } from "./envelope.ts";
import { dispatchNow } from "./local_transport.ts";
import { rejected } from "./rejections.ts";
import type { FetchApp } from "./transport.ts";

export interface NatsServeOptions {
  nc: NatsConnection;
  subject: string;
  /** Queue group; give one for singletons (dispatcher, rm) so only one instance answers. */
  queue?: string;
  /**
   * While this says false, requests are dropped unanswered: a leader that lost its lease must
   * not act on what is still buffered for it (the backlog of a process that was frozen), and
   * must not answer before the live leader does.
   * @default always true
   */
  accept?: () => boolean;
  log?: Logger;
}

export interface NatsServer {
  readonly subject: string;
  /** Requests being handled right now. */
  inFlight(): number;
  /** Stop taking requests and wait for the ones in flight to be answered. */
  stop(): Promise<void>;
}

function respond(msg: Msg, bytes: Uint8Array, log: Logger): void {
  try {
    msg.respond(bytes);
  } catch (err) {
    // Only a reply over max_payload gets here: answer that, small enough to fit.
    log.warn({ err, subject: msg.subject, bytes: bytes.byteLength }, "reply not sent");
    const max = (msg as { publisher?: { info?: { max_payload?: number } } }).publisher?.info
      ?.max_payload;
    const error = new FlotillaError(
      ErrorCode.PAYLOAD_TOO_LARGE,
      `reply of ${bytes.byteLength} bytes from ${msg.subject} exceeds the NATS server's max_payload${max ? ` of ${max} bytes` : ""}`,
    );
    try {
      msg.respond(encodeReply(errorReply(error)));
    } catch (again) {
      log.error({ err: again, subject: msg.subject }, "error reply not sent");
    }
  }
}

export function serveNats(
  app: FetchApp,
  { nc, subject, queue, accept, log = silentLogger }: NatsServeOptions,
): NatsServer {
  let inFlight = 0;
  let idle: (() => void) | undefined;

  function done(): void {
    inFlight--;
    if (inFlight === 0) idle?.();
  }

  /** Answers one message: synchronously when the app did (see `dispatchNow`), else later. */
  function handle(msg: Msg): Promise<void> | undefined {
    let request: RequestEnvelope;
    try {
      request = decodeRequest(msg.data);
    } catch (err) {
      rejected(subject, "bad envelope", log, {
        subject: msg.subject,
        bytes: msg.data.byteLength,
        err: (err as Error).message,
      });
      if (msg.reply) respond(msg, encodeReply(errorReply(err as FlotillaError)), log);
      return undefined;
    }
    const reply = dispatchNow(app, request);
    if (reply instanceof Promise) {
      return reply.then((answered) => {
        if (msg.reply) respond(msg, encodeReply(answered), log);
      });
    }
    if (msg.reply) respond(msg, encodeReply(reply), log);
    return undefined;
  }

  const sub: Subscription = nc.subscribe(subject, {
    ...(queue ? { queue } : {}),
    callback: (err, msg) => {
      if (err) {
        log.error({ err, subject }, "subscription error");
        return;
      }
      if (accept && !accept()) return;
      inFlight++;
      let pending: Promise<void> | undefined;
      try {
        pending = handle(msg);
      } catch (e) {
        log.error({ err: e, subject }, "request handling failed");
      }
      if (!pending) return done();
      pending.catch((e) => log.error({ err: e, subject }, "request handling failed")).finally(done);
    },
  });

  return {
    subject,
    inFlight: () => inFlight,
    async stop(): Promise<void> {
      if (!sub.isClosed()) await sub.drain().catch(() => sub.unsubscribe());
      if (inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
    },
  };
}
