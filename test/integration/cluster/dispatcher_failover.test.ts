/**
 * Dispatcher failover: the leader dies (kill -9) while a checkpointed job runs; the standby takes
 * over, recovers the job from its latest checkpoint, and the job finishes with zero alerts; an
 * adaptive job keeps the parallelism bounds a PUT set before the failover.
 */
import t, { type Test } from "tap";
import { isJobEnd, JobState } from "../../../components/core/mod.ts";
import type { JobDetailsInfo } from "../../../components/protocol/mod.ts";
import { httpTransport } from "../../../components/rpc/mod.ts";
import { clusterFor } from "../../support/cluster.ts";
import { freePort } from "../../support/nats.ts";
import { dispatcherRest } from "../../support/rest.ts";
import { AUTH_HEADERS, authorized } from "../../support/rest_token.ts";
import { exactlyOnce } from "../../support/sequence.ts";
import { natsFor } from "../../support/tap.ts";

/** A leading Dispatcher (d-a), a standby (d-b) on its own REST port, an RM and two TMs. */
async function withStandby(t: Test) {
  const nats = await natsFor(t);
  const cluster = await clusterFor(t, nats, {
    roles: ["dispatcher", "resourcemanager", "taskmanager", "taskmanager"],
    env: { FLOTILLA_CLUSTER_INSTANCE_ID: "d-a" },
  });
  const standbyPort = await freePort();
  cluster.spawn("dispatcher", {
    FLOTILLA_CLUSTER_INSTANCE_ID: "d-b",
    FLOTILLA_REST_PORT: String(standbyPort),
  });
  const standby = `http://127.0.0.1:${standbyPort}`;
  return {
    cluster,
    leader: cluster.processes[0]!,
    standby,
    standbyRest: dispatcherRest(authorized(httpTransport(standby))),
  };
}

t.test("a standby Dispatcher recovers a running job after the leader is killed", async (t) => {
  const { cluster, leader, standby, standbyRest } = await withStandby(t);
  await cluster.waitFor("the standby's REST endpoint", async () =>
    (await fetch(`${standby}/healthz`)).ok ? true : undefined,
  );
  const standbyAnswer = await fetch(`${standby}/jobs`);
  t.equal(standbyAnswer.status, 503, "a standby refuses REST calls");
  t.match(await standbyAnswer.json(), { code: "UNAVAILABLE" });

  const jobId = await cluster.submit("sequence-check.ts", {
    args: { keys: "8", perKey: "8000", rate: "8000" },
  });
  await cluster.waitFor("two checkpoints", async () =>
    (await cluster.job(jobId)).flotilla.checkpoints >= 2 ? true : undefined,
  );
  leader.kill("SIGKILL");

  const done = await cluster.waitFor(
    "the job to finish under the new leader",
    async () => {
      const job = await standbyRest.job(jobId);
      return isJobEnd(job.state) ? job : undefined;
    },
    60_000,
  );
  t.equal(done.state, JobState.FINISHED, JSON.stringify(done.flotilla.error));
  exactlyOnce(t, await standbyRest.results(jobId), 8, 8000);
});

t.test("bounds a PUT set survive the failover (kept with the job's HA record)", async (t) => {
  const { cluster, leader, standby, standbyRest } = await withStandby(t);
  const jobId = await cluster.submit("test/support/jobs/adaptive_sequence.ts", {
    args: { keys: "8", perKey: "6000", rate: "2000" },
  });
  const parallelism = async (rest: string) => {
    const res = await fetch(`${rest}/jobs/${jobId}`, { headers: AUTH_HEADERS });
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as JobDetailsInfo;
    if (
      body.state !== JobState.RUNNING ||
      body.vertices.some((v) => v.tasks.RUNNING !== v.parallelism)
    )
      return undefined;
    return Object.fromEntries(body.vertices.map((v) => [v.flotilla.vertexId, v.parallelism]));
  };
  const at = (rest: string, want: Record<string, number>, what: string) =>
    cluster.waitFor(
      what,
      async () => {
        const p = await parallelism(rest);
        return p && JSON.stringify(p) === JSON.stringify(want) ? p : undefined;
      },
      30_000,
    );
  await at(cluster.rest, { sequence: 4, "check-sequences": 4 }, "parallelism 4 on 4 slots");

  const put = await cluster.call("PUT", `/jobs/${jobId}/resource-requirements`, {
    "check-sequences": { parallelism: { lowerBound: 1, upperBound: 2 } },
  });
  t.equal(put.status, 200, JSON.stringify(put.body));
  await at(cluster.rest, { sequence: 4, "check-sequences": 2 }, "the check at 2 after the PUT");
  await cluster.waitFor("a checkpoint at the new parallelism", async () =>
    (await cluster.job(jobId)).flotilla.checkpoints >= 3 ? true : undefined,
  );
  leader.kill("SIGKILL");

  await at(standby, { sequence: 4, "check-sequences": 2 }, "the recovered job at the PUT's bounds");
  const requirements = await (
    await fetch(`${standby}/jobs/${jobId}/resource-requirements`, { headers: AUTH_HEADERS })
  ).json();
  t.match(
    requirements,
    { "check-sequences": { parallelism: { lowerBound: 1, upperBound: 2 } } },
    "the new leader shows the bounds the PUT set",
  );
  const done = await cluster.waitFor(
    "the end",
    async () => {
      const job = await standbyRest.job(jobId);
      return isJobEnd(job.state) ? job : undefined;
    },
    60_000,
  );
  t.equal(done.state, JobState.FINISHED, JSON.stringify(done.flotilla.error));
  exactlyOnce(t, await standbyRest.results(jobId), 8, 6000);
});
