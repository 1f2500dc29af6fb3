/**
 * JetStream to JetStream ETL: read orders from a stream, keep the paid ones, reshape them, and
 * write them to another subject exactly once (the sink stages per checkpoint and publishes with
 * deterministic Nats-Msg-Id headers, so a replay after a failure is de-duplicated by the stream).
 * Args: `input` (stream name), `output` (subject, captured by a stream), `nats` (server URL;
 * default the cluster's own NATS, where job code is the `job` user in an account of its own, so
 * the streams are that account's: `nats --creds` or the job user's seed reaches them).
 */
import { defineJob, sinks, sources } from "flotilla";

export interface Order {
  id: string;
  customer: string;
  cents: number;
  status: "paid" | "open" | "canceled";
}

export default defineJob(
  {
    name: "jetstream-etl",
    parallelism: 1,
    checkpointing: { intervalMs: 200 },
    restartStrategy: { type: "fixed-delay", attempts: 3, delayMs: 100 },
  },
  (env) => {
    // No servers: the cluster's NATS, as the job user.
    const nats = env.arg("nats", "");
    const servers = nats ? { servers: nats } : {};
    return env
      .source(
        sources.jetstream<Order>({
          ...servers,
          stream: env.arg("input", "ORDERS"),
          bounded: env.arg("bounded", "true") === "true",
        }),
      )
      .filter((o) => o.status === "paid")
      .map((o) => ({ id: o.id, customer: o.customer, euros: o.cents / 100 }))
      .sink(sinks.jetstream({ ...servers, subject: env.arg("output", "paid.orders") }));
  },
);
