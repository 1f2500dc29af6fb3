/** One listener per NATS connection for its "disconnect" and "reconnect" events, shared by every watch on it. */
import type { NatsConnection } from "@nats-io/transport-node";

type ConnectionEvent = "disconnect" | "reconnect";

interface Listener {
  event: ConnectionEvent;
  fn: () => void;
}

const listeners = new WeakMap<NatsConnection, Set<Listener>>();

function on(nc: NatsConnection, event: ConnectionEvent, fn: () => void): () => void {
  let set = listeners.get(nc);
  if (!set) {
    const created = new Set<Listener>();
    set = created;
    listeners.set(nc, created);
    void (async () => {
      for await (const status of nc.status()) {
        for (const listener of [...created]) if (listener.event === status.type) listener.fn();
      }
    })().catch(() => {});
  }
  const listener = { event, fn };
  set.add(listener);
  return () => set.delete(listener);
}

/** Calls `fn` after each reconnect of `nc`; returns the unsubscribe function. */
export function onReconnect(nc: NatsConnection, fn: () => void): () => void {
  return on(nc, "reconnect", fn);
}

/** Calls `fn` each time `nc` loses its server; returns the unsubscribe function. */
export function onDisconnect(nc: NatsConnection, fn: () => void): () => void {
  return on(nc, "disconnect", fn);
}
