/**
 * A MiniCluster's REST API from a test, in-process: JSON calls, a job file bundled, uploaded and
 * submitted, and polling a job's details until a condition holds.
 */
import type { MiniCluster } from "../../components/cluster/mod.ts";
import { bundleJob } from "../../components/dataflow/internal_mod.ts";
import { until } from "./poll.ts";

export const ENDED = (d: { state: string }) => ["finished", "failed", "canceled"].includes(d.state);

export function miniRest(mini: MiniCluster) {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await mini.rest.request(path, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  /** Bundles `file` (relative to the repository), uploads it and submits it; the job's id. */
  const submit = async (file: string, args: Record<string, string>) => {
    const upload = await mini.rest.request("/artifacts", {
      method: "POST",
      body: (await bundleJob(file)) as BodyInit,
    });
    const { artifact } = (await upload.json()) as { artifact: string };
    const submitted = await call("POST", "/jobs", { artifact, args });
    if (submitted.status !== 202)
      throw new Error(`submit failed: ${submitted.status} ${JSON.stringify(submitted.body)}`);
    return submitted.body.jobId as string;
  };
  /** The job's details once `done` says so; throws after `ms` with the last details. */
  const untilJob = async (what: string, jobId: string, done: (d: any) => boolean, ms = 30_000) => {
    let last: unknown;
    const check = async () => {
      const { body } = await call("GET", `/jobs/${jobId}`);
      last = body;
      return done(body) ? body : undefined;
    };
    return await until(check, what, { timeoutMs: ms }).catch((err: Error) => {
      throw new Error(`${err.message}; the job's last details: ${JSON.stringify(last)}`);
    });
  };
  return { call, submit, until: untilJob };
}
