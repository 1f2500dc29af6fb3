/**
 * Who may use this process's REST API, from its configuration (server side), and which token the
 * CLI sends (client side). A server without `rest.token-file` generates an admin token into
 * `credentials.dir` (readable by its user only) and logs where, as a notebook server does; the
 * CLI finds that file by the cluster's id, so on one machine `flotilla start master` and
 * `flotilla list --cluster http://127.0.0.1:8081` work together without a step between.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Config, InvalidConfigError, type Logger } from "../core/mod.ts";
import type { FetchApp, Transport } from "../rpc/mod.ts";
import { readSecretFile } from "./nats_auth.ts";
import { guardRest, type RestTokens } from "./rest_guard.ts";
import { TLS_FILES } from "./tls_certs.ts";
import { credentialsDir, ensureTokenFile, generatedTokenFile, readTokenFile } from "./tokens.ts";

/** The tokens this server takes; undefined with `rest.authentication: none`. */
export function restTokensFrom(config: Config, log: Logger): RestTokens | undefined {
  if (config["rest.authentication"] === "none") {
    log.warn(
      { key: "rest.authentication" },
      "REST authentication is off: whoever reaches the REST port may submit jobs, which run code on this cluster",
    );
    return undefined;
  }
  let admin: string[];
  const tokenFile = config["rest.token-file"];
  if (tokenFile) admin = readTokenFile(tokenFile, "rest.token-file");
  else {
    const path = generatedTokenFile(config);
    const { token, generated } = ensureTokenFile(path);
    admin = [token];
    log.info(
      { tokenFile: path, generated },
      `REST admin token ${generated ? "generated" : "reused"} in ${path} (readable by this user only); the CLI on this machine finds it, elsewhere set FLOTILLA_REST_TOKEN_FILE to a copy`,
    );
  }
  const readFile = config["rest.read-token-file"];
  return { admin, read: readFile ? readTokenFile(readFile, "rest.read-token-file") : [] };
}

/** This process's REST gate, from its configuration: what wraps every REST app it serves. */
export function restGuardFrom(config: Config, log: Logger): (app: FetchApp) => FetchApp {
  const tokens = restTokensFrom(config, log);
  const submit = config["web.submit.enable"];
  if (!tokens && submit) return (app) => app;
  return (app) => guardRest(app, { ...(tokens ? { tokens } : {}), submit });
}

/**
 * The token a client sends: the first of `rest.token-file`, or else of the file a server on
 * this machine generated for `cluster.id`; none when neither exists.
 */
export function clientRestToken(config: Config): string | undefined {
  const tokenFile = config["rest.token-file"];
  if (tokenFile) return readTokenFile(tokenFile, "rest.token-file")[0];
  const generated = generatedTokenFile(config);
  return existsSync(generated) ? readTokenFile(generated, "rest.token-file")[0] : undefined;
}

/** `transport` with `Authorization: Bearer <token>` on every request. */
export function withBearer(transport: Transport, token: string | undefined): Transport {
  if (!token) return transport;
  const authorization = `Bearer ${token}`;
  const authorized = <R extends { headers: Record<string, string> }>(request: R): R => ({
    ...request,
    headers: { ...request.headers, authorization },
  });
  return {
    get target() {
      return transport.target;
    },
    send: (request, timeoutMs) => transport.send(authorized(request), timeoutMs),
    ...(transport.settling ? { settling: () => transport.settling!() } : {}),
    ...(transport.sendAll
      ? { sendAll: (request, waitMs) => transport.sendAll!(authorized(request), waitMs) }
      : {}),
  };
}

/** The REST endpoint's certificate and key (`rest.tls.*-file`), or undefined for plain HTTP. */
export function restTlsFrom(config: Config): { cert: string; key: string } | undefined {
  const certFile = config["rest.tls.cert-file"];
  const keyFile = config["rest.tls.key-file"];
  if (Boolean(certFile) !== Boolean(keyFile))
    throw new InvalidConfigError(
      certFile ? "rest.tls.key-file" : "rest.tls.cert-file",
      "rest.tls.cert-file and rest.tls.key-file go together",
    );
  if (!certFile) return undefined;
  return {
    cert: readSecretFile(certFile, "rest.tls.cert-file"),
    key: readSecretFile(keyFile, "rest.tls.key-file"),
  };
}

/**
 * The CA a client checks an https:// cluster with: `rest.tls.ca-file`, else the cluster CA that
 * `flotilla cluster secrets --tls` made in credentials.dir, if any.
 */
export function clientRestCa(config: Config): string | undefined {
  if (config["rest.tls.ca-file"])
    return readSecretFile(config["rest.tls.ca-file"], "rest.tls.ca-file");
  const made = join(credentialsDir(config), TLS_FILES.ca);
  return existsSync(made) ? readSecretFile(made, "rest.tls.ca-file") : undefined;
}
