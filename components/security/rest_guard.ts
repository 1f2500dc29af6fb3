/**
 * The REST API's gate: every route but `/healthz` needs `Authorization: Bearer <token>`, checked
 * by Hono's `bearerAuth` (header parsing, challenges) against SHA-256 digests compared in constant
 * time. A `read` token may GET; an `admin` token may also upload, submit, cancel, stop, savepoint
 * and rescale. Paths under Flink's `/v1` prefix are the same routes and checked the same. With submission off (Flink's
 * `web.submit.enable: false`) uploads and submissions are refused whatever the token. Refusals
 * are `{errors, code}`: 401 UNAUTHORIZED, 403 FORBIDDEN, 400 BAD_REQUEST for a malformed header.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { type Context, type Env, Hono, type MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { ErrorCode, type WireError } from "../core/mod.ts";
import type { FetchApp } from "../rpc/mod.ts";

export type RestScope = "read" | "admin";

export interface RestTokens {
  /** Tokens that may do everything. At least one. */
  admin: readonly string[];
  /** Tokens that may read (GET) only. */
  read?: readonly string[];
}

export interface RestGuardOptions {
  /** Who may call; undefined lets every caller do everything (`rest.authentication: none`). */
  tokens?: RestTokens;
  /** False refuses artifact uploads and job submissions. @default true */
  submit?: boolean;
}

/** Every route is served at its path and under Flink's `/v1` prefix: checks see the unprefixed path. */
const VERSION_PREFIX = "/v1";
const unversioned = (path: string): string =>
  path === VERSION_PREFIX
    ? "/"
    : path.startsWith(`${VERSION_PREFIX}/`)
      ? path.slice(VERSION_PREFIX.length)
      : path;

const OPEN_PATHS = new Set(["/healthz"]);
const READS = new Set(["GET", "HEAD"]);
/** The routes that bring code into the cluster. */
const SUBMISSIONS = new Set(["/artifacts", "/jobs"]);

type GuardEnv = { Variables: { scope: RestScope } };

const digest = (token: string): Buffer => createHash("sha256").update(token).digest();

/** A refusal's body: `{errors, code}`, as every guard of this component answers. */
export const refusal = (code: ErrorCode, message: string): WireError => ({
  errors: [message],
  code,
});

/**
 * Which scope a presented token has among `scopes` (an earlier scope wins for a token in several).
 * Digests of the known tokens are made once: a call hashes only the token it presents, then
 * compares digests in constant time, every one of them (how many match says nothing).
 */
export function scopeMatcher<S extends string>(
  scopes: readonly (readonly [S, readonly string[]])[],
): (token: string) => S | undefined {
  const known = scopes.flatMap(([scope, tokens], rank) =>
    tokens.map((token) => ({ digest: digest(token), scope, rank })),
  );
  return (token) => {
    const presented = digest(token);
    let best: (typeof known)[number] | undefined;
    for (const k of known)
      if (timingSafeEqual(k.digest, presented) && (!best || k.rank < best.rank)) best = k;
    return best?.scope;
  };
}

/**
 * Hono's `bearerAuth` (header parsing, challenges) checking tokens with `verifyToken`, its
 * refusals in this component's `{errors, code}` bodies; `noToken` says which token to send.
 */
export function bearerGate<E extends Env>(
  verifyToken: (token: string, c: Context<E>) => boolean,
  noToken: string,
): MiddlewareHandler<E> {
  return bearerAuth<E>({
    verifyToken,
    noAuthenticationHeader: { message: refusal(ErrorCode.UNAUTHORIZED, noToken) },
    invalidAuthenticationHeader: {
      message: refusal(ErrorCode.BAD_REQUEST, "the Authorization header must be 'Bearer <token>'"),
    },
    invalidToken: {
      message: refusal(ErrorCode.UNAUTHORIZED, "this token is not valid for this cluster"),
    },
  });
}

/** `app` behind the gate. */
export function guardRest(app: FetchApp, { tokens, submit = true }: RestGuardOptions): FetchApp {
  if (tokens && tokens.admin.length === 0)
    throw new Error("guardRest: at least one admin token is needed");
  const guard = new Hono<GuardEnv>();
  guard.use("*", async (c, next) => {
    if (OPEN_PATHS.has(unversioned(c.req.path))) return app.fetch(c.req.raw);
    await next();
  });
  if (tokens) {
    const scopeOf = scopeMatcher<RestScope>([
      ["admin", tokens.admin],
      ["read", tokens.read ?? []],
    ]);
    guard.use(
      "*",
      bearerGate<GuardEnv>((token, c) => {
        const scope = scopeOf(token);
        if (scope) c.set("scope", scope);
        return scope !== undefined;
      }, "this REST API needs a token: send 'Authorization: Bearer <token>' (the CLI sends the one in FLOTILLA_REST_TOKEN_FILE or --token-file)"),
    );
  }
  guard.use("*", async (c, next) => {
    const writes = !READS.has(c.req.method);
    if (writes && tokens && c.get("scope") !== "admin")
      return c.json(
        refusal(
          ErrorCode.FORBIDDEN,
          `a read-only token may not ${c.req.method} ${c.req.path}: it needs an admin token`,
        ),
        403,
      );
    if (!submit && c.req.method === "POST" && SUBMISSIONS.has(unversioned(c.req.path)))
      return c.json(
        refusal(
          ErrorCode.FORBIDDEN,
          "this cluster does not take jobs over REST (web.submit.enable: false)",
        ),
        403,
      );
    await next();
  });
  guard.all("*", (c) => app.fetch(c.req.raw));
  return guard;
}
