/**
 * The fabric a cluster's blocks are woven on: how a block is served on its subject, how a caller
 * reaches a subject, and where data-plane channels come from. Over NATS for real clusters; all
 * in-process for the embedded MiniCluster, with the very same blocks and calls.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import { TimeoutError } from "../core/mod.ts";
import { type ChannelFactory, localChannels, natsChannels } from "../dataflow/internal_mod.ts";
import {
  dispatch,
  type FetchApp,
  NoRespondersError,
  natsTransport,
  type ReplyEnvelope,
  type RequestEnvelope,
  serveNats,
  type Transport,
} from "../rpc/mod.ts";

export interface Served {
  stop(): Promise<void>;
}

export interface ServeOptions {
  queue?: string;
  accept?: () => boolean;
}

export interface Fabric {
  readonly kind: "nats" | "local";
  transportFor(subject: string): Transport;
  /**
   * Serves `app` on `subject`. `accept` false leaves a request unanswered, for another server
   * of the subject to answer (a deposed leader's, whose subscription may outlive its lease);
   * `queue` spreads requests over the servers of a queue group.
   */
  serve(subject: string, app: FetchApp, options?: ServeOptions): Served;
  channelsFor(jobId: string, attempt: number): ChannelFactory;
  /**
   * Opens a NATS connection for job code (sources and sinks that use NATS); its opener closes
   * it. A NATS fabric has none: job code never gets the block's own connection (a role gives
   * its TaskManager `jobNatsConnector`). Absent in a local fabric without one.
   */
  connectNats?(servers?: string): Promise<NatsConnection>;
}

export function natsFabric(nc: NatsConnection, clusterId: string): Fabric {
  return {
    kind: "nats",
    transportFor: (subject) => natsTransport(nc, subject),
    serve: (subject, app, { queue, accept } = {}) =>
      serveNats(app, { nc, subject, ...(queue ? { queue } : {}), ...(accept ? { accept } : {}) }),
    channelsFor: (jobId, attempt) => natsChannels({ nc, clusterId, jobId, attempt }),
  };
}

/** Everything in this process: a registry of apps by subject, and shared in-process channels. */
export function localFabric({ connectNats }: { connectNats?: Fabric["connectNats"] } = {}): Fabric {
  const apps = new Map<string, { app: FetchApp; accept: () => boolean }[]>();
  const channels = new Map<string, ChannelFactory>();
  let turn = 0;
  return {
    kind: "local",
    transportFor(subject): Transport {
      return {
        target: subject,
        send(request: RequestEnvelope, timeoutMs: number): Promise<ReplyEnvelope> {
          const candidates = apps.get(subject)?.filter((served) => served.accept());
          if (!candidates?.length)
            return Promise.reject(new NoRespondersError(`no service is listening on ${subject}`));
          const { app } = candidates[turn++ % candidates.length]!;
          let timer: ReturnType<typeof setTimeout> | undefined;
          const expired = new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new TimeoutError(`no reply from ${subject} within ${timeoutMs} ms`)),
              timeoutMs,
            );
          });
          return Promise.race([dispatch(app, request), expired]).finally(() => clearTimeout(timer));
        },
      };
    },
    serve(subject, app, { accept = () => true } = {}) {
      const served = { app, accept };
      apps.set(subject, [...(apps.get(subject) ?? []), served]);
      return {
        stop: async () => {
          apps.set(
            subject,
            (apps.get(subject) ?? []).filter((a) => a !== served),
          );
        },
      };
    },
    channelsFor(jobId, attempt) {
      const key = `${jobId}/${attempt}`;
      let factory = channels.get(key);
      if (!factory) {
        factory = localChannels();
        channels.set(key, factory);
      }
      return factory;
    },
    ...(connectNats ? { connectNats } : {}),
  };
}
