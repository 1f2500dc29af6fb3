/** tap helpers: a nats-server and connections that are torn down with the test. */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type NatsServer, type NatsServerOptions, startNats } from "./nats.ts";

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function natsFor(t: Teardown, options?: NatsServerOptions): Promise<NatsServer> {
  const server = await startNats(options);
  t.teardown(() => server.cleanup());
  return server;
}

/** A client that keeps reconnecting (tests restart servers under it). */
export async function connectFor(t: Teardown, server: NatsServer): Promise<NatsConnection> {
  const nc = await connect({
    ...server.clientOptions,
    servers: server.url,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
    reconnectJitter: 0,
  });
  t.teardown(() => nc.close());
  return nc;
}
