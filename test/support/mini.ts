/**
 * A MiniCluster's REST API from a test, in-process: typed by the Dispatcher's contract, a job
 * file bundled, uploaded and submitted, and polling a job's details until a condition holds.
 */
import type { MiniCluster } from "../../components/cluster/mod.ts";
import { isJobEnd } from "../../components/core/mod.ts";
import { bundleJob } from "../../components/dataflow/internal_mod.ts";
import type { JobDetailsInfo } from "../../components/protocol/mod.ts";
import { localTransport, unwrap } from "../../components/rpc/mod.ts";
import { until } from "./poll.ts";
import { dispatcherRest, restCall } from "./rest.ts";

export const ENDED = (d: Pick<JobDetailsInfo, "state">) => isJobEnd(d.state);

export function miniRest(mini: MiniCluster) {
  const transport = localTransport(mini.rest);
  const rest = dispatcherRest(transport);
  const { api } = rest;
  /** Bundles `file` (relative to the repository), uploads it and submits it; the job's id. */
  const submit = async (file: string, args: Record<string, string>) => {
    // The route takes the bundle as it is (copied onto an ArrayBuffer, as a request body is).
    const body = new Uint8Array(await bundleJob(file));
    const { artifact } = await unwrap(api.artifacts.$post(undefined, { init: { body } }));
    const { jobId } = await unwrap(api.jobs.$post({ json: { artifact, args } }));
    return jobId;
  };
  /** The job's details once `done` says so; throws after `ms` with the last details. */
  const untilJob = async (
    what: string,
    jobId: string,
    done: (d: JobDetailsInfo) => boolean,
    ms = 30_000,
  ) => {
    let last: JobDetailsInfo | undefined;
    const check = async () => {
      last = await rest.job(jobId);
      return done(last) ? last : undefined;
    };
    return await until(check, what, { timeoutMs: ms }).catch((err: Error) => {
      throw new Error(`${err.message}; the job's last details: ${JSON.stringify(last)}`);
    });
  };
  /** One raw call (bad input, error statuses): the status and the parsed body. */
  const call = restCall(transport);
  return { ...rest, call, submit, until: untilJob };
}
