/** One listener per NATS connection for "reconnect" events, shared by every watch on it. */
import type { NatsConnection } from "@nats-io/transport-node";

const listeners = new WeakMap<NatsConnection, Set<() => void>>();

/** Calls `fn` after each reconnect of `nc`; returns the unsubscribe function. */
export function onReconnect(nc: NatsConnection, fn: () => void): () => void {
  let set = listeners.get(nc);
  if (!set) {
    const created = new Set<() => void>();
    set = created;
    listeners.set(nc, created);
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type !== "reconnect") continue;
        for (const listener of [...created]) listener();
      }
    })().catch(() => {});
  }
  set.add(fn);
  return () => set.delete(fn);
}
