/**
 * Serves a Hono app over HTTP (or HTTPS, given a certificate) with the runtime's own server:
 * `@hono/node-server` on Node, `Deno.serve` on Deno. The only runtime-specific server code in rpc.
 */
import type { FetchApp } from "./transport.ts";

export interface HttpServeOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default "127.0.0.1" */
  hostname?: string;
  /** Serve HTTPS with this certificate and key (PEM text). @default plain HTTP */
  tls?: { cert: string; key: string };
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
  { port = 0, hostname = "127.0.0.1", tls }: HttpServeOptions = {},
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
  const secure = tls
    ? { createServer: (await import("node:https")).createServer, serverOptions: tls }
    : {};
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
