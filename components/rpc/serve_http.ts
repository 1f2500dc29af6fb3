/**
 * Serves a Hono app over HTTP (or HTTPS, given a certificate) with the runtime's own server:
 * `@hono/node-server` on Node, `Deno.serve` on Deno. The only runtime-specific server code in rpc.
 *
 * On Node the server's own bounds are set, not left to its version's defaults: request headers
 * at most 16 KiB (`maxHeaderBytes`; more is a 431), all headers within 20 s (`headersTimeoutMs`)
 * and the whole request within 120 s (`requestTimeoutMs`; a 16 MiB artifact needs ~1.1 Mbit/s),
 * so a client that sends slowly (slow loris) cannot hold a connection forever; a late one gets
 * a 408 and its connection is closed. Deno.serve has no such options and keeps its own defaults.
 */
import type { FetchApp } from "./transport.ts";

export interface HttpServeOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default "127.0.0.1" */
  hostname?: string;
  /** Serve HTTPS with this certificate and key (PEM text). @default plain HTTP */
  tls?: { cert: string; key: string };
  /** Largest request head (request line and headers) in bytes; more is a 431. @default 16384 */
  maxHeaderBytes?: number;
  /** How long a client may take to send all its headers. @default 20000 */
  headersTimeoutMs?: number;
  /** How long a client may take to send its whole request, body included. @default 120000 */
  requestTimeoutMs?: number;
}

export interface HttpServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

interface DenoLike {
  serve(
    options: {
      port: number;
      hostname: string;
      cert?: string;
      key?: string;
      onListen?: (addr: { port: number }) => void;
    },
    handler: (request: Request) => Response | Promise<Response>,
  ): { finished: Promise<void>; shutdown(): Promise<void>; addr: { port: number } };
}

export async function serveHttp(
  app: FetchApp,
  {
    port = 0,
    hostname = "127.0.0.1",
    tls,
    maxHeaderBytes = 16 * 1024,
    headersTimeoutMs = 20_000,
    requestTimeoutMs = 120_000,
  }: HttpServeOptions = {},
): Promise<HttpServer> {
  const scheme = tls ? "https" : "http";
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  if (deno) {
    const server = deno.serve({ port, hostname, ...tls, onListen: () => {} }, (req) =>
      app.fetch(req),
    );
    const bound = server.addr.port;
    return { port: bound, url: `${scheme}://${hostname}:${bound}`, close: () => server.shutdown() };
  }
  const { serve } = await import("@hono/node-server");
  const bounds = {
    maxHeaderSize: maxHeaderBytes,
    headersTimeout: headersTimeoutMs,
    requestTimeout: requestTimeoutMs,
    // Node checks the two timeouts only this often (30 s by default): check within their scale.
    connectionsCheckingInterval: Math.max(10, Math.min(1000, headersTimeoutMs / 2)),
  };
  const secure = tls
    ? {
        createServer: (await import("node:https")).createServer,
        serverOptions: { ...tls, ...bounds },
      }
    : { serverOptions: bounds };
  return await new Promise((resolve) => {
    const fetch = (req: Request) => app.fetch(req);
    const server = serve({ fetch, port, hostname, ...secure }, (info) => {
      resolve({
        port: info.port,
        url: `${scheme}://${hostname}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
  });
}
