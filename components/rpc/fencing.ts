/**
 * Fencing: calls from a leader carry its fencing token (the lease revision); a block remembers
 * the highest token it has seen per scope and rejects an older one with 409 STALE_LEADER, so a
 * deposed leader that wakes up cannot act.
 */
import type { Context, MiddlewareHandler } from "hono";
import { ErrorCode, FlotillaError, StaleLeaderError } from "../core/mod.ts";
import type { HeaderMap } from "./envelope.ts";

export const FENCING_HEADER = "flotilla-fencing-token";

/** Headers a leader sends with every fenced call. */
export function fencingHeaders(token: number): HeaderMap {
  return { [FENCING_HEADER]: String(token) };
}

/** The highest token seen per scope (e.g. "resourcemanager"). */
export class FencingTokens {
  readonly #highest = new Map<string, number>();

  current(scope = ""): number | undefined {
    return this.#highest.get(scope);
  }

  /** Accepts a token not older than the newest seen, and remembers it; throws when stale. */
  admit(token: number, scope = ""): void {
    const highest = this.#highest.get(scope);
    if (highest !== undefined && token < highest) {
      throw new StaleLeaderError(
        `fencing token ${token}${scope ? ` for ${scope}` : ""} is older than the current leader's ${highest}: this leader was replaced`,
      );
    }
    if (highest === undefined || token > highest) this.#highest.set(scope, token);
  }
}

/** Middleware for leader-fenced routes. `scopeOf` picks which leader the route answers to. */
export function fencing(
  tokens: FencingTokens,
  scopeOf: (c: Context) => string = () => "",
): MiddlewareHandler {
  return async (c, next) => {
    const raw = c.req.header(FENCING_HEADER);
    if (raw === undefined) {
      throw new FlotillaError(
        ErrorCode.BAD_REQUEST,
        `missing ${FENCING_HEADER} header: this call must come from a leader and carry its token`,
      );
    }
    const token = Number(raw);
    if (!Number.isSafeInteger(token) || token < 0) {
      throw new FlotillaError(
        ErrorCode.BAD_REQUEST,
        `bad ${FENCING_HEADER} ${JSON.stringify(raw)}: expected a non-negative integer`,
      );
    }
    tokens.admit(token, scopeOf(c));
    await next();
  };
}
