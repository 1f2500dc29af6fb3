import { connect, type NatsConnection } from "@nats-io/transport-node";
import t from "tap";
import { JobState, subjects } from "../../components/core/mod.ts";
import type { SlotOffer, TaskManagerInfo } from "../../components/protocol/mod.ts";
import { decodeReply, encodeRequest } from "../../components/rpc/mod.ts";
import { clusterFor } from "../support/cluster.ts";
import { natsUserOptions } from "../support/compose.ts";
import { securedNatsFor } from "../support/secured_nats.ts";
import { exactlyOnce } from "../support/sequence.ts";

t.setTimeout(240_000);

const clusterId = `offers${process.pid}`;
const { secrets, nats, roleEnv: as } = await securedNatsFor(t, clusterId);

/** One call over NATS as raw as a forger would make it: the reply's status and JSON body. */
async function call(
  nc: NatsConnection,
  subject: string,
  method: string,
  path: string,
  body?: unknown,
) {
  const msg = await nc.request(
    subject,
    encodeRequest({
      method,
      path,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: new TextEncoder().encode(JSON.stringify(body)) }),
    }),
    { timeout: 10_000 },
  );
  const reply = decodeReply(msg.data);
  return {
    status: reply.status,
    body: reply.body ? (JSON.parse(new TextDecoder().decode(reply.body)) as unknown) : undefined,
  };
}

const cluster = await clusterFor(t, nats, {
  roles: [],
  env: { FLOTILLA_CLUSTER_ID: clusterId },
  ready: async () => {},
});
cluster.spawn("master", as("master"));
cluster.spawn("taskmanager", as("taskmanager"));
await cluster.waitFor("one TaskManager", async () =>
  (await cluster.overview().catch(() => undefined))?.taskmanagers === 1 ? true : undefined,
);

// Four slots wanted, two there: the job waits for two more, which the forger offers.
const jobId = await cluster.submit("sequence-check.ts", {
  args: { keys: "8", perKey: "2000", rate: "4000" },
  parallelism: 4,
});
const forger = await connect({
  servers: nats.url,
  ...natsUserOptions(secrets.dir, "taskmanager"),
  maxReconnectAttempts: 0,
});
t.teardown(() => forger.close());
/** The RM's own view of its TaskManagers (slots with allocation ids, which Flink's view lacks). */
const rmTaskManagers = async () => {
  // The TaskManagers' user may read the RM's views: the job's real allocation ids are no secret.
  const views = await call(forger, subjects.resourceManager(clusterId), "GET", "/taskmanagers");
  return views.status === 200
    ? (views.body as { taskmanagers: TaskManagerInfo[] }).taskmanagers
    : [];
};
await cluster.waitFor("the job to hold the two real slots", async () => {
  const [tm] = await rmTaskManagers();
  return tm && tm.slots.filter((s) => s.jobId === jobId && !s.pending).length === 2
    ? true
    : undefined;
});
const FAKE_TM = "tm-forged";
const fakeSubject = subjects.taskManager(clusterId, FAKE_TM);
/** Everything sent to the fake TaskManager (a deployment would arrive here). */
const reachedFake: string[] = [];
const sub = forger.subscribe(fakeSubject, {
  callback: (_err, msg) => {
    reachedFake.push(msg.subject);
  },
});
await forger.flush();
t.teardown(() => sub.unsubscribe());
const jmSubject = subjects.jobManager(clusterId, jobId);
const ANY = { cpu: 0, memoryMb: 0, extended: {} };

t.test("an offer of made-up allocations is refused", async (t) => {
  const offer: SlotOffer = {
    tmId: FAKE_TM as SlotOffer["tmId"],
    tmSubject: fakeSubject,
    slots: [0, 1].map((i) => ({
      slotId: `${FAKE_TM}_${i}` as SlotOffer["slots"][number]["slotId"],
      allocationId: `alloc-forged${i}` as SlotOffer["slots"][number]["allocationId"],
      profile: ANY,
    })),
  };
  t.same(await call(forger, jmSubject, "POST", "/slots/offer", offer), {
    status: 200,
    body: { accepted: [] },
  });
  t.match(await cluster.job(jobId), { state: JobState.CREATED }, "still waiting for real slots");
});

t.test("an offer naming real allocations, for the fake TaskManager, is refused", async (t) => {
  const real = (await rmTaskManagers()).flatMap((tm) => tm.slots).filter((s) => s.jobId === jobId);
  t.equal(real.length, 2, "the job's two real allocations");
  const offer = {
    tmId: FAKE_TM,
    tmSubject: fakeSubject,
    slots: real.map((s, i) => ({
      slotId: `${FAKE_TM}_${i}`,
      allocationId: s.allocationId,
      profile: ANY,
    })),
  };
  t.same(await call(forger, jmSubject, "POST", "/slots/offer", offer), {
    status: 200,
    body: { accepted: [] },
  });
});

t.test("with real slots the job ends exactly once; nothing reached the fake", async (t) => {
  cluster.spawn("taskmanager", as("taskmanager"));
  const job = await cluster.result(jobId, 120_000);
  t.equal(job.state, JobState.FINISHED, JSON.stringify(job.flotilla.error));
  exactlyOnce(t, await cluster.results(jobId), 8, 2000);
  await forger.flush();
  t.same(reachedFake, [], "no deployment or other call reached the forged TaskManager");
});
