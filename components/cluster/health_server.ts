/**
 * A process's health port: `/healthz` for probes (open) and its Prometheus `/metrics` (with
 * `/metrics/targets` for Prometheus' http_sd) behind a bearer token.
 */
import type { Config, Logger } from "../core/mod.ts";
import { processMetrics, scrapeTargets } from "../metrics/mod.ts";
import { createBlock, type HttpServer, rejectionMetrics, reply, serveHttp } from "../rpc/mod.ts";
import { guardMetrics, metricsTokensFrom } from "../security/mod.ts";

/**
 * GET /healthz on `port`, answering what `describe` says (503 when it says not ok), and GET
 * /metrics: the process's Prometheus text, behind a bearer token (`guardMetrics`).
 */
export async function serveHealth(
  ctx: { config: Config; log: Logger },
  port: number,
  describe: () => Record<string, unknown> & { ok: boolean },
): Promise<HttpServer> {
  const app = createBlock({ log: ctx.log })
    .get("/healthz", (c) => {
      const health = describe();
      return reply(c, health, health.ok ? 200 : 503);
    })
    // Prometheus scrapes here with the metrics token (README Metrics); job code on the
    // cluster's network must not read other tenants' series. No secret in any label.
    .get("/metrics", async (c) => {
      const metrics = processMetrics();
      return c.text(await metrics.text(rejectionMetrics()), 200, {
        "content-type": metrics.contentType,
      });
    })
    // Prometheus' http_sd: the TaskManagers this process's ResourceManager started (README Metrics).
    .get("/metrics/targets", (c) => c.json(scrapeTargets(port)));
  return await serveHttp(guardMetrics(app, metricsTokensFrom(ctx.config)), {
    port,
    hostname: ctx.config["rest.address"],
  });
}
