/**
 * Fencing tokens against a real nats-server: a TaskManager takes a ResourceManager token only if
 * it is the current lease's in the HA store (JetStream KV). A made-up high token is refused and
 * not remembered, so the real RM keeps heartbeating and allocating (a job runs to the end); a
 * freshly elected RM's token is confirmed from its first call; a forged lease with an absurd
 * expiry is capped from the server's timestamp of its write.
 */
import type { NatsConnection } from "@nats-io/transport-node";
import t from "tap";
import { leaseTokenVerifier } from "../../components/cluster/lease_tokens.ts";
import {
  BlockRole,
  ErrorCode,
  JobState,
  leaderKey,
  newAllocationId,
  newJobId,
  type SlotId,
  subjects,
} from "../../components/core/mod.ts";
import { encodeLease, MAX_LEASE_MS } from "../../components/ha/lease.ts";
import { LeaseElection } from "../../components/ha/lease_election.ts";
import { type LeaderElection, natsHaServices } from "../../components/ha/mod.ts";
import { openNatsKv } from "../../components/ha/nats_kv.ts";
import {
  type ResourceManagerApp,
  RM_FENCING_SCOPE,
  type TaskManagerSlotApp,
} from "../../components/protocol/mod.ts";
import {
  createClient,
  decodeReply,
  encodeRequest,
  fencingHeaders,
  natsTransport,
  RpcResponse,
  unwrap,
} from "../../components/rpc/mod.ts";
import { clusterFor } from "../support/cluster.ts";
import { until } from "../support/poll.ts";
import { exactlyOnce } from "../support/sequence.ts";
import { connectFor, natsFor } from "../support/tap.ts";

t.setTimeout(180_000);

const MADE_UP = Number.MAX_SAFE_INTEGER;
const LEASE_MS = 1500;
const YEAR_MS = 365 * 24 * 3600_000;

const nats = await natsFor(t);

/** An RM election on its own connection, started; resolves with its first token and what a
 * reader on another connection said about that token right inside `onElected`. */
async function electRm(clusterId: string, holder: string, read: (token: number) => unknown) {
  const ha = await natsHaServices({ nc: await connectFor(t, nats), clusterId });
  const election = ha.election({ role: BlockRole.RESOURCE_MANAGER, holder, leaseMs: LEASE_MS });
  t.teardown(() => election.stop());
  const elected = new Promise<{ token: number; seen: Promise<unknown> }>((resolve) =>
    election.start({
      onElected: (token) => resolve({ token, seen: Promise.resolve(read(token)) }),
      onRevoked: () => {},
    }),
  );
  return { election, elected };
}

t.test("a freshly elected RM's token is confirmed at once, and only the current one", async (t) => {
  const clusterId = `fv${process.pid}`;
  const readerHa = await natsHaServices({ nc: await connectFor(t, nats), clusterId });
  const verify = leaseTokenVerifier(readerHa, { holder: "tm-reader", leaseMs: LEASE_MS });
  // A reader that never re-reads: what the store says at the very moment the leader knows it.
  const reader: LeaderElection = readerHa.election({
    role: BlockRole.RESOURCE_MANAGER,
    holder: "raw-reader",
    leaseMs: LEASE_MS,
  });
  const firstLook = async (token: number) => ({
    lease: await reader.leader(),
    verified: await verify(RM_FENCING_SCOPE, token),
  });

  const a = await electRm(clusterId, "rm-a", firstLook);
  const { token: first, seen } = await a.elected;
  t.match(
    await seen,
    { lease: { holder: "rm-a", token: first }, verified: true },
    "the winning write is the lease leader() reads, with the token the leader sends",
  );
  // Renewals write the token into the value: it must still read the same.
  const kv = await openNatsKv({ nc: await connectFor(t, nats), clusterId });
  await until(
    async () => {
      const record = await kv.get(leaderKey(BlockRole.RESOURCE_MANAGER));
      return record && record.revision > first ? record : undefined;
    },
    "a renewal of rm-a's lease",
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  t.equal(await verify(RM_FENCING_SCOPE, first), true, "after renewals too");
  t.equal(await verify(RM_FENCING_SCOPE, MADE_UP), false, "a made-up token is not the lease's");
  t.equal(await verify(RM_FENCING_SCOPE, first + 1), false, "nor is a near miss");
  t.equal(await verify("jm.job-1", first), false, "a scope with no lease behind it");

  const b = await electRm(clusterId, "rm-b", firstLook);
  await b.election.watching(10_000);
  await a.election.stop(); // resigns: b is elected at once
  const { token: second, seen: seenB } = await b.elected;
  t.ok(second > first, `the new term's token ${second} > ${first}`);
  t.match(await seenB, { lease: { holder: "rm-b", token: second }, verified: true });
  t.equal(await verify(RM_FENCING_SCOPE, first), false, "the deposed RM's token is refused");
});

t.test("a forged lease in JetStream is capped from the server's time of the write", async (t) => {
  const clusterId = `fl${process.pid}`;
  const kv = await openNatsKv({ nc: await connectFor(t, nats), clusterId });
  const role = "forged-role";
  const far = Date.now() + 100 * YEAR_MS;
  await kv.put(
    leaderKey(role),
    encodeLease({ holder: "forger", subject: "x", term: 1, expiresAt: far, leaseMs: far }),
  );
  const record = (await kv.get(leaderKey(role)))!;
  t.type(record.writtenAt, "number", "JetStream stamps the write");
  const reader = new LeaseElection(kv, { role, holder: "reader", leaseMs: LEASE_MS });
  t.match(await reader.leader(), {
    holder: "forger",
    expiresAt: record.writtenAt! + MAX_LEASE_MS,
  });
});

t.test("a TaskManager refuses a made-up RM token and keeps following the real RM", async (t) => {
  const cluster = await clusterFor(t, nats, { roles: ["master", "taskmanager"] });
  const nc: NatsConnection = await connectFor(t, nats);
  // The RM's own view (Flink's TaskManagerInfo does not name slots): a real slot's id to forge on.
  const rmApi = createClient<ResourceManagerApp>(
    natsTransport(nc, subjects.resourceManager(cluster.env.FLOTILLA_CLUSTER_ID!)),
  );
  const [tm] = (await unwrap(rmApi.taskmanagers.$get())).taskmanagers;
  const slotId = tm!.slots[0]!.slotId as SlotId;

  const heartbeat = async (token: number) => {
    const request = encodeRequest({
      method: "GET",
      path: "/heartbeat",
      headers: { "flotilla-fencing-token": String(token) },
    });
    const reply = new RpcResponse(decodeReply((await nc.request(tm!.subject, request)).data));
    return { status: reply.status, body: await reply.json() };
  };
  t.match(
    await heartbeat(MADE_UP),
    {
      status: 409,
      body: { code: ErrorCode.STALE_LEADER, errors: [/matches no current lease in the HA store/] },
    },
    "a heartbeat with a made-up token is refused",
  );
  const forger = createClient<TaskManagerSlotApp>(natsTransport(nc, tm!.subject), {
    headers: fencingHeaders(MADE_UP),
  });
  await t.rejects(
    unwrap(
      forger.slots[":slotId"].allocate.$post({
        param: { slotId },
        json: {
          jobId: newJobId(),
          allocationId: newAllocationId(),
          jmSubject: "nobody.listens",
          profile: { cpu: 0, memoryMb: 0, extended: {} },
        },
      }),
    ),
    { code: ErrorCode.STALE_LEADER },
    "an allocation with a made-up token is refused",
  );

  const rm = await (await natsHaServices({ nc, clusterId: cluster.env.FLOTILLA_CLUSTER_ID! }))
    .election({ role: BlockRole.RESOURCE_MANAGER, holder: "probe", leaseMs: LEASE_MS })
    .leader();
  t.ok(rm && rm.token < MADE_UP, `the RM leads with token ${rm?.token}`);
  t.equal((await heartbeat(rm!.token)).status, 200, "the RM's own token is still taken");
  t.match(await heartbeat(rm!.token - 1), { status: 409 }, "an older one is not");

  // The RM's allocations are fenced: a job that runs end to end was allocated by it.
  const jobId = await cluster.submit("sequence-check.ts", {
    args: { keys: "2", perKey: "500", rate: "5000" },
    parallelism: 1,
  });
  const job = await cluster.result(jobId, 90_000);
  t.equal(job.state, JobState.FINISHED, JSON.stringify(job.flotilla.error));
  exactlyOnce(t, await cluster.results(jobId), 2, 500);
  t.match(await cluster.taskManagers(), [{ id: tm!.tmId }], "still registered");
});
