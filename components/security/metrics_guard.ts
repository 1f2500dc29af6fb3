/**
 * The health port's gate for Prometheus: `/metrics` and `/metrics/targets` need
 * `Authorization: Bearer <token>` (a REST read or admin token, or a metrics token that the REST
 * guard does not know, so it reads metrics and nothing else); `/healthz` stays open for a
 * container HEALTHCHECK. Refusals are the REST guard's `{errors, code}` bodies.
 */
import { existsSync } from "node:fs";
import { Hono } from "hono";
import type { Config } from "../core/mod.ts";
import type { FetchApp } from "../rpc/mod.ts";
import { bearerGate, type RestScope, scopeMatcher } from "./rest_guard.ts";
import { generatedTokenFile, readTokenFile } from "./tokens.ts";

export type MetricsScope = RestScope | "metrics";

export interface MetricsTokens {
  /** The REST admin tokens (`rest.token-file`, or the one a server generated). */
  admin?: readonly string[];
  /** The REST read-only tokens (`rest.read-token-file`). */
  read?: readonly string[];
  /** Tokens that may read metrics only (`metrics.token-file`): what Prometheus scrapes with. */
  metrics?: readonly string[];
}

const OPEN_PATHS = new Set(["/healthz"]);

/**
 * The tokens this process's health port takes for /metrics; undefined (open) with
 * `rest.authentication: none` or when the process has no token at all. The REST admin token a
 * server generated counts when its file exists; it is never generated here (a TaskManager has
 * no REST API to hand it out from).
 */
export function metricsTokensFrom(config: Config): MetricsTokens | undefined {
  if (config["rest.authentication"] === "none") return undefined;
  const from = (path: string, key: string) => (path ? readTokenFile(path, key) : []);
  const generated = generatedTokenFile(config);
  const tokens = {
    admin: config["rest.token-file"]
      ? from(config["rest.token-file"], "rest.token-file")
      : existsSync(generated)
        ? from(generated, "rest.token-file")
        : [],
    read: from(config["rest.read-token-file"], "rest.read-token-file"),
    metrics: from(config["metrics.token-file"], "metrics.token-file"),
  };
  return tokens.admin.length + tokens.read.length + tokens.metrics.length > 0 ? tokens : undefined;
}

/** `app` (a health port's) behind the gate; undefined tokens leave it open. */
export function guardMetrics(app: FetchApp, tokens: MetricsTokens | undefined): FetchApp {
  if (!tokens) return app;
  const scopeOf = scopeMatcher<MetricsScope>([
    ["admin", tokens.admin ?? []],
    ["read", tokens.read ?? []],
    ["metrics", tokens.metrics ?? []],
  ]);
  const guard = new Hono();
  guard.use("*", async (c, next) => {
    if (OPEN_PATHS.has(c.req.path)) return app.fetch(c.req.raw);
    await next();
  });
  guard.use(
    "*",
    // Every route behind the gate is a read of metrics: every scope may.
    bearerGate(
      (token) => scopeOf(token) !== undefined,
      "metrics need a token: send 'Authorization: Bearer <token>' with the metrics token (metrics.token-file; Prometheus: authorization.credentials_file) or a REST read token",
    ),
  );
  guard.all("*", (c) => app.fetch(c.req.raw));
  return guard;
}
