/** The JobManager's Hono app: the routes TaskManagers, the ResourceManager and the Dispatcher call. */
import { z } from "zod";
import { body, createBlock, params, reply } from "../rpc/mod.ts";
import type { JobMaster } from "./job_master.ts";
import {
  checkpointAckSchema,
  checkpointDeclineSchema,
  resourcesUnavailableSchema,
  resultsSchema,
  slotOfferSchema,
  sourceEndedSchema,
  taskMetricsSchema,
  taskReportSchema,
} from "./types.ts";

export function jobManagerApp(jm: JobMaster) {
  return createBlock()
    .get("/heartbeat", (c) => reply(c, { jobId: jm.jobId, state: jm.status() }))
    .get("/status", (c) => reply(c, jm.info()))
    .post("/slots/offer", body(slotOfferSchema), (c) => {
      const { tmId, tmSubject, slots } = c.req.valid("json");
      return reply(c, { accepted: jm.offer(slots.map((s) => ({ ...s, tmId, tmSubject }))) });
    })
    .post("/tasks/state", body(taskReportSchema), (c) => {
      jm.onTaskReport(c.req.valid("json"));
      return reply(c, { ok: true });
    })
    .post("/tasks/metrics", body(taskMetricsSchema), (c) => {
      jm.onTaskMetrics(c.req.valid("json"));
      return reply(c, { ok: true });
    })
    .post("/checkpoints/ack", body(checkpointAckSchema), (c) => {
      const ack = c.req.valid("json");
      jm.checkpointing(ack)?.acknowledge(ack.checkpointId, ack.handle, ack.bytes);
      return reply(c, { ok: true });
    })
    .post("/checkpoints/decline", body(checkpointDeclineSchema), (c) => {
      const decline = c.req.valid("json");
      jm.checkpointing(decline)?.decline(decline.checkpointId, decline.reason);
      return reply(c, { ok: true });
    })
    .post("/sources/ended", body(sourceEndedSchema), (c) => {
      jm.checkpointing(c.req.valid("json"))?.sourceEnded();
      return reply(c, { ok: true });
    })
    .post("/results", body(resultsSchema), (c) => {
      const { sinkId, values, batchId } = c.req.valid("json");
      jm.addResults(sinkId, values, batchId);
      return reply(c, { ok: true });
    })
    .post("/resources/unavailable", body(resourcesUnavailableSchema), (c) => {
      jm.resourcesUnavailable(c.req.valid("json").missing);
      return reply(c, { acknowledged: true });
    })
    .post("/taskmanagers/:tmId/lost", params(z.object({ tmId: z.string() })), (c) => {
      jm.taskManagerLost(c.req.valid("param").tmId);
      return reply(c, { acknowledged: true });
    })
    .post("/cancel", async (c) => reply(c, await jm.cancel()))
    .post("/savepoints", async (c) => reply(c, { path: await jm.savepoint() }, 201))
    .post("/stop", async (c) => reply(c, await jm.stop()));
}

export type JobManagerApp = ReturnType<typeof jobManagerApp>;
