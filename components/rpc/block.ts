/**
 * The base every building block's Hono app starts from: errors become `{errors, code}` replies
 * with the right status, unknown routes a NOT_FOUND, and nothing thrown escapes as a crash.
 */
import { type Context, type Env, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import {
  codeForStatus,
  ErrorCode,
  FlotillaError,
  type Logger,
  silentLogger,
  toFlotillaError,
} from "../core/mod.ts";
import { reply } from "./response.ts";

export function errorFrom(err: unknown): FlotillaError {
  if (err instanceof HTTPException) {
    return new FlotillaError(codeForStatus(err.status), err.message || `HTTP ${err.status}`);
  }
  return toFlotillaError(err);
}

export function replyError(c: Context, err: unknown, log: Logger = silentLogger): Response {
  const error = errorFrom(err);
  if (error.code === ErrorCode.INTERNAL) {
    log.error({ err, method: c.req.method, path: c.req.path }, "request failed");
  }
  return reply(c, error.toWire(), error.status as ContentfulStatusCode);
}

export interface BlockOptions {
  /** Where unexpected errors are logged. @default a silent logger */
  log?: Logger;
}

/** A Hono app with flotilla's error handling; chain routes on it so clients get their types. */
export function createBlock<E extends Env = Env>({
  log = silentLogger,
}: BlockOptions = {}): Hono<E> {
  const app = new Hono<E>();
  app.onError((err, c) => replyError(c, err, log));
  app.notFound((c) =>
    replyError(
      c,
      new FlotillaError(ErrorCode.NOT_FOUND, `no route for ${c.req.method} ${c.req.path}`),
    ),
  );
  return app;
}
