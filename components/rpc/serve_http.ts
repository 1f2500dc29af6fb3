/**
 * Serves a Hono app over HTTP with the runtime's own server: `@hono/node-server` on Node,
 * `Deno.serve` on Deno. The only runtime-specific code in rpc.
 */
import type { FetchApp } from "./transport.ts";

export interface HttpServeOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default "127.0.0.1" */
  hostname?: string;
}

export interface HttpServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

interface DenoLike {
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { finished: Promise<void>; shutdown(): Promise<void>; addr: { port: number } };
}

export async function serveHttp(
  app: FetchApp,
  { port = 0, hostname = "127.0.0.1" }: HttpServeOptions = {},
): Promise<HttpServer> {
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  if (deno) {
    const server = deno.serve({ port, hostname, onListen: () => {} }, (req) => app.fetch(req));
    const bound = server.addr.port;
    return { port: bound, url: `http://${hostname}:${bound}`, close: () => server.shutdown() };
  }
  const { serve } = await import("@hono/node-server");
  return await new Promise((resolve) => {
    const server = serve({ fetch: (req: Request) => app.fetch(req), port, hostname }, (info) => {
      resolve({
        port: info.port,
        url: `http://${hostname}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
  });
}
