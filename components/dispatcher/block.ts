/**
 * The Dispatcher's REST API (DESIGN.md section 8; Flink's paths where they make sense), served
 * over HTTP on `rest.port` and over NATS on `flotilla.<cluster>.dispatcher`. Every error is
 * `{"errors": [...], "code": "..."}` with a 4xx for bad input, and changes nothing.
 */
import { ErrorCode, FlotillaError } from "../core/mod.ts";
import { resourceRequirementsSchema } from "../jobmanager/mod.ts";
import {
  body,
  createBlock,
  createClient,
  params,
  query,
  reply,
  type Transport,
  unwrap,
} from "../rpc/mod.ts";
import type { Dispatcher } from "./dispatcher.ts";
import { artifactParam, cancelQuery, jobIdParam, stopSchema, submitSchema } from "./types.ts";

/** Artifacts are at most this big (a bundled job is usually a few kB). */
const MAX_ARTIFACT = 16 * 1024 * 1024;

export function dispatcherApp(
  dispatcher: Dispatcher,
  {
    rmSubject,
    transportFor,
    config = {},
  }: {
    rmSubject: string;
    transportFor(subject: string): Transport;
    config?: Record<string, unknown>;
  },
) {
  const rm = (): any => createClient<any>(transportFor(rmSubject), { timeoutMs: 3000 });
  const rmOr = async <T>(call: () => Promise<T>, fallback: T): Promise<T> =>
    call().catch(() => fallback);

  return (
    createBlock({ log: dispatcher.log })
      .get("/healthz", (c) => reply(c, { ok: true }))
      .get("/config", (c) => reply(c, config))
      .get("/overview", async (c) => {
        const jobs = await dispatcher.list();
        const count = (state: string) => jobs.filter((j) => j.state === state).length;
        const resources = await rmOr(
          () => unwrap(rm().overview.$get()) as Promise<Record<string, number>>,
          {},
        );
        return reply(c, {
          taskmanagers: resources.taskmanagers ?? 0,
          slotsTotal: resources.slotsTotal ?? 0,
          slotsAvailable: resources.slotsFree ?? 0,
          jobsRunning: jobs.filter((j) => !["finished", "canceled", "failed"].includes(j.state))
            .length,
          jobsFinished: count("finished"),
          jobsCanceled: count("canceled"),
          jobsFailed: count("failed"),
          resourceManager: Object.keys(resources).length > 0 ? "up" : "unreachable",
        });
      })
      .get("/taskmanagers", async (c) =>
        reply(c, (await unwrap(rm().taskmanagers.$get())) as unknown),
      )
      .post("/artifacts", async (c) => {
        const bytes = new Uint8Array(await c.req.arrayBuffer());
        if (bytes.byteLength > MAX_ARTIFACT) {
          throw new FlotillaError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            `artifact of ${bytes.byteLength} bytes is over the ${MAX_ARTIFACT}-byte limit`,
          );
        }
        const uploaded = await dispatcher.uploadArtifact(bytes);
        return reply(c, uploaded, uploaded.created ? 201 : 200);
      })
      .get("/artifacts/:artifact", params(artifactParam), async (c) => {
        const { artifact } = c.req.valid("param");
        if (!(await dispatcher.hasArtifact(artifact)))
          throw new FlotillaError(
            ErrorCode.NOT_FOUND,
            `no artifact ${artifact}: upload it with POST /artifacts`,
          );
        return reply(c, { artifact });
      })
      .get("/jobs", async (c) => reply(c, { jobs: await dispatcher.list() }))
      .post("/jobs", body(submitSchema), async (c) => {
        const jobId = await dispatcher.submit(c.req.valid("json"));
        return reply(c, { jobId }, 202);
      })
      .get("/jobs/:jobId", params(jobIdParam), async (c) =>
        reply(c, await dispatcher.details(c.req.valid("param").jobId)),
      )
      .get("/jobs/:jobId/results", params(jobIdParam), async (c) =>
        reply(c, await dispatcher.results(c.req.valid("param").jobId)),
      )
      .patch("/jobs/:jobId", params(jobIdParam), query(cancelQuery), async (c) => {
        const jm = await dispatcher.control(c.req.valid("param").jobId);
        void jm.cancel();
        return reply(c, { jobId: jm.jobId, state: "canceling" }, 202);
      })
      .post("/jobs/:jobId/savepoints", params(jobIdParam), async (c) => {
        const jm = await dispatcher.control(c.req.valid("param").jobId);
        return reply(c, { path: await jm.savepoint() }, 201);
      })
      .post("/jobs/:jobId/stop", params(jobIdParam), body(stopSchema), async (c) => {
        const jm = await dispatcher.control(c.req.valid("param").jobId);
        const outcome = c.req.valid("json").savepoint ? await jm.stop() : await jm.cancel();
        return reply(c, {
          jobId: jm.jobId,
          state: outcome.state,
          ...(outcome.savepoint ? { savepoint: outcome.savepoint } : {}),
        });
      })
      // Flink's adaptive-scheduler API: parallelism bounds per vertex, changeable while running.
      .get("/jobs/:jobId/resource-requirements", params(jobIdParam), async (c) => {
        const jm = await dispatcher.control(c.req.valid("param").jobId);
        return reply(c, jm.resourceRequirements());
      })
      .put(
        "/jobs/:jobId/resource-requirements",
        params(jobIdParam),
        body(resourceRequirementsSchema),
        async (c) => {
          const jm = await dispatcher.control(c.req.valid("param").jobId);
          return reply(c, await jm.setResourceRequirements(c.req.valid("json")));
        },
      )
      .get("/metrics", async (c) => {
        const jobs = await dispatcher.list();
        const states = [
          "created",
          "running",
          "restarting",
          "failing",
          "canceling",
          "finished",
          "canceled",
          "failed",
        ];
        const lines = [
          "# HELP flotilla_jobs Jobs known to the dispatcher, by state.",
          "# TYPE flotilla_jobs gauge",
        ];
        for (const s of states)
          lines.push(`flotilla_jobs{state="${s}"} ${jobs.filter((j) => j.state === s).length}`);
        return c.text(`${lines.join("\n")}\n`, 200, {
          "content-type": "text/plain; version=0.0.4",
        });
      })
  );
}

export type DispatcherApp = ReturnType<typeof dispatcherApp>;
