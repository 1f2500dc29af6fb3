/**
 * Fencing: calls from a leader carry its fencing token (the lease revision); a block remembers
 * the highest token it has seen per scope and rejects an older one with 409 STALE_LEADER, so a
 * deposed leader that wakes up cannot act. With a verifier, a token higher than any seen counts
 * only once the HA store confirms it is the current lease's: a made-up one is refused, never kept.
 */
import type { Context, MiddlewareHandler } from "hono";
import { ErrorCode, FlotillaError, StaleLeaderError, UnavailableError } from "../core/mod.ts";
import type { HeaderMap } from "./envelope.ts";

export const FENCING_HEADER = "flotilla-fencing-token";

/** Headers a leader sends with every fenced call. */
export function fencingHeaders(token: number): HeaderMap {
  return { [FENCING_HEADER]: String(token) };
}

/**
 * True when `token` is the fencing token of the current, unexpired lease of the leader `scope`
 * names, as the HA store says now. A rejection (store unreachable) refuses the call with it.
 */
export type FencingTokenVerifier = (scope: string, token: number) => Promise<boolean>;

export interface FencingTokensOptions {
  /**
   * Confirms a token higher than any seen before it is accepted. Without one every such token is
   * believed (tests with fake leaders, or blocks no stranger can reach). @default none
   */
  verify?: FencingTokenVerifier;
  /**
   * Different unconfirmed tokens checked at once, per scope; more are refused with 503 until
   * one is done, so a flood of made-up tokens costs a bounded number of store reads. @default 16
   */
  maxVerifying?: number;
}

/** The highest confirmed token per scope (e.g. "resourcemanager"): one number per scope, no more. */
export class FencingTokens {
  readonly #highest = new Map<string, number>();
  /** Checks in flight by scope, then token: callers presenting the same new token share one. */
  readonly #verifying = new Map<string, Map<number, Promise<boolean>>>();
  readonly #verify: FencingTokenVerifier | undefined;
  readonly #maxVerifying: number;

  constructor({ verify, maxVerifying = 16 }: FencingTokensOptions = {}) {
    this.#verify = verify;
    this.#maxVerifying = maxVerifying;
  }

  current(scope = ""): number | undefined {
    return this.#highest.get(scope);
  }

  /**
   * Accepts the highest token known at once; refuses an older one (STALE_LEADER); remembers a
   * newer one once the verifier (if any) confirms it, and refuses it (STALE_LEADER) otherwise.
   */
  async admit(token: number, scope = ""): Promise<void> {
    this.#refuseIfOlder(token, scope);
    if (token === this.#highest.get(scope)) return;
    if (this.#verify && !(await this.#confirmed(this.#verify, token, scope))) {
      throw new StaleLeaderError(
        `fencing token ${token}${scope ? ` for ${scope}` : ""} matches no current lease in the HA store: the call is not from the leader`,
      );
    }
    // Another token may have been confirmed meanwhile: never move backwards.
    this.#refuseIfOlder(token, scope);
    this.#highest.set(scope, token);
  }

  #refuseIfOlder(token: number, scope: string): void {
    const highest = this.#highest.get(scope);
    if (highest !== undefined && token < highest) {
      throw new StaleLeaderError(
        `fencing token ${token}${scope ? ` for ${scope}` : ""} is older than the current leader's ${highest}: this leader was replaced`,
      );
    }
  }

  #confirmed(verify: FencingTokenVerifier, token: number, scope: string): Promise<boolean> {
    let pending = this.#verifying.get(scope);
    const shared = pending?.get(token);
    if (shared) return shared;
    if (pending && pending.size >= this.#maxVerifying) {
      return Promise.reject(
        new UnavailableError(
          `${pending.size} fencing tokens${scope ? ` for ${scope}` : ""} are being checked against the HA store already; retry shortly`,
        ),
      );
    }
    if (!pending) {
      pending = new Map();
      this.#verifying.set(scope, pending);
    }
    const checks = pending;
    // A verifier that throws instead of rejecting still frees its place.
    const check = new Promise<boolean>((resolve) => resolve(verify(scope, token))).finally(() => {
      checks.delete(token);
      if (checks.size === 0 && this.#verifying.get(scope) === checks) this.#verifying.delete(scope);
    });
    checks.set(token, check);
    return check;
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
    await tokens.admit(token, scopeOf(c));
    await next();
  };
}
