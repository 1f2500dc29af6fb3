/**
 * The in-process transport: the same envelope handed straight to `app.fetch`, no network at all.
 * Bodies stay encoded bytes, so caller and block share no objects, exactly as over NATS.
 */
import { TimeoutError } from "../core/mod.ts";
import { errorFrom } from "./block.ts";
import { errorReply, type ReplyEnvelope, type RequestEnvelope } from "./envelope.ts";
import { toRequest } from "./request.ts";
import { toReplyEnvelope, ValueResponse, valueReplyEnvelope } from "./response.ts";
import type { FetchApp, Transport } from "./transport.ts";

async function settle(pending: Response | Promise<Response>): Promise<ReplyEnvelope> {
  try {
    return await toReplyEnvelope(await pending);
  } catch (err) {
    return errorReply(errorFrom(err));
  }
}

/**
 * `dispatch` without the promise when the app answered synchronously with `reply()` (a route
 * with one plain handler): no microtask hops or promise allocations on the most common path.
 */
export function dispatchNow(
  app: FetchApp,
  request: RequestEnvelope,
): ReplyEnvelope | Promise<ReplyEnvelope> {
  try {
    const res = app.fetch(toRequest(request));
    return res instanceof ValueResponse ? valueReplyEnvelope(res) : settle(res);
  } catch (err) {
    return errorReply(errorFrom(err));
  }
}

/** Runs one envelope through an app; a throw becomes an error reply, never a rejection. */
export async function dispatch(app: FetchApp, request: RequestEnvelope): Promise<ReplyEnvelope> {
  return await dispatchNow(app, request);
}

export function localTransport(app: FetchApp, name = "in-process"): Transport {
  return {
    target: name,
    send(request: RequestEnvelope, timeoutMs: number): Promise<ReplyEnvelope> {
      const answered = dispatchNow(app, request);
      // Already answered: no deadline can pass, so no timer.
      if (!(answered instanceof Promise)) return Promise.resolve(answered);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TimeoutError(`no reply from ${name} within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      return Promise.race([answered, expired]).finally(() => clearTimeout(timer));
    },
  };
}
