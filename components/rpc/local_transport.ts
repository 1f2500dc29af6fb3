/**
 * The in-process transport: the same envelope handed straight to `app.fetch`, no network at all.
 * Bodies stay encoded bytes, so caller and block share no objects, exactly as over NATS.
 */
import { TimeoutError } from "../core/mod.ts";
import { errorFrom } from "./block.ts";
import { errorReply, type ReplyEnvelope, type RequestEnvelope } from "./envelope.ts";
import { toRequest } from "./request.ts";
import { toReplyEnvelope } from "./response.ts";
import type { FetchApp, Transport } from "./transport.ts";

/** Runs one envelope through an app; a throw becomes an error reply, never a rejection. */
export async function dispatch(app: FetchApp, request: RequestEnvelope): Promise<ReplyEnvelope> {
  try {
    return await toReplyEnvelope(await app.fetch(toRequest(request)));
  } catch (err) {
    return errorReply(errorFrom(err));
  }
}

export function localTransport(app: FetchApp, name = "in-process"): Transport {
  return {
    target: name,
    send(request: RequestEnvelope, timeoutMs: number): Promise<ReplyEnvelope> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new TimeoutError(`no reply from ${name} within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      return Promise.race([dispatch(app, request), expired]).finally(() => clearTimeout(timer));
    },
  };
}
