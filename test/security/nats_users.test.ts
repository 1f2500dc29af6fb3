import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection, nkeyAuthenticator, nkeys } from "@nats-io/transport-node";
import t from "tap";
import { JobState, kvBucketName, leaderKey, subjects } from "../../components/core/mod.ts";
import { decodeReply, encodeRequest } from "../../components/rpc/mod.ts";
import type { NatsUser } from "../../components/security/mod.ts";
import { clusterFor } from "../support/cluster.ts";
import { natsUserOptions } from "../support/compose.ts";
import { AUTH_HEADERS, TEST_TOKEN } from "../support/rest_token.ts";
import { securedNatsFor } from "../support/secured_nats.ts";
import { exactlyOnce } from "../support/sequence.ts";

t.setTimeout(240_000);

const clusterId = `sec${process.pid}`;
const { secrets, nats, roleEnv: as } = await securedNatsFor(t, clusterId);

async function clientAs(user: NatsUser | "stranger"): Promise<NatsConnection> {
  const options =
    user === "stranger"
      ? { authenticator: nkeyAuthenticator(nkeys.createUser().getSeed()) }
      : natsUserOptions(secrets.dir, user);
  const nc = await connect({ servers: nats.url, ...options, maxReconnectAttempts: 0 });
  t.teardown(() => nc.close());
  return nc;
}

/** Resolves with the server's refusal of a subscription (the error that closes it). */
async function subscriptionRefused(nc: NatsConnection, subject: string): Promise<string> {
  const sub = nc.subscribe(subject);
  const closed = (await sub.closed) as Error | undefined;
  return closed?.message ?? "not refused";
}

/** A request's outcome: the server's refusal of the publish, or what came back. */
async function requestOutcome(nc: NatsConnection, subject: string, body: Uint8Array) {
  try {
    const msg = await nc.request(subject, body, { timeout: 2000 });
    return `answered ${decodeReply(msg.data).status}`;
  } catch (err) {
    return (err as Error).message;
  }
}

const PERMISSION = /Permissions Violation/i;

const cluster = await clusterFor(t, nats, {
  roles: [],
  env: { FLOTILLA_CLUSTER_ID: clusterId },
  ready: async () => {},
});
cluster.spawn("master", as("master"));
cluster.spawn("taskmanager", as("taskmanager"));
cluster.spawn("taskmanager", as("taskmanager"));
await cluster.waitFor("two TaskManagers", async () =>
  (await cluster.overview().catch(() => undefined))?.taskmanagers === 2 ? true : undefined,
);
// A job runs through everything below and must end exactly once.
const jobId = await cluster.submit("sequence-check.ts", {
  args: { keys: "8", perKey: "4000", rate: "4000" },
  parallelism: 4,
});

t.test("anonymous and unknown clients are refused at connect", async (t) => {
  await t.rejects(
    connect({ servers: nats.url, maxReconnectAttempts: 0 }),
    /Authorization Violation/,
    "no credentials",
  );
  await t.rejects(
    clientAs("stranger").then((nc) => nc.flush()),
    /Authorization Violation/,
    "an nkey the server does not know",
  );
});

t.test("a TaskManager's user cannot act as another block or touch leases", async (t) => {
  const tm = await clientAs("taskmanager");
  t.match(
    await subscriptionRefused(tm, subjects.dispatcher(clusterId)),
    PERMISSION,
    "cannot answer the Dispatcher's subject",
  );
  t.match(
    await subscriptionRefused(tm, subjects.resourceManager(clusterId)),
    PERMISSION,
    "cannot answer the ResourceManager's subject",
  );
  t.match(await subscriptionRefused(tm, "flotilla.>"), PERMISSION, "cannot read flotilla.>");
  const kv = await new Kvm(jetstream(tm)).open(kvBucketName(clusterId));
  await t.rejects(
    kv.put(leaderKey("resourcemanager"), "forged"),
    PERMISSION,
    "cannot forge the ResourceManager's lease",
  );
  await t.rejects(kv.put("jobs.forged", "{}"), PERMISSION, "cannot write a job record");
});

t.test("the CLI's user reaches the Dispatcher's API and nothing else", async (t) => {
  const cli = await clientAs("cli");
  const overview = encodeRequest({
    method: "GET",
    path: "/overview",
    headers: { authorization: `Bearer ${TEST_TOKEN}` },
  });
  t.equal(
    await requestOutcome(cli, subjects.dispatcher(clusterId), overview),
    "answered 200",
    "GET /overview over NATS with the token",
  );
  t.equal(
    await requestOutcome(
      cli,
      subjects.dispatcher(clusterId),
      encodeRequest({ method: "GET", path: "/overview", headers: {} }),
    ),
    "answered 401",
    "over NATS too the REST API wants its token",
  );
  t.match(
    await requestOutcome(cli, subjects.resourceManager(clusterId), overview),
    PERMISSION,
    "cannot call the ResourceManager",
  );
  const register = encodeRequest({ method: "POST", path: "/taskmanagers", headers: {} });
  t.match(
    await requestOutcome(cli, subjects.resourceManager(clusterId), register),
    PERMISSION,
    "cannot register a TaskManager",
  );
  t.match(
    await subscriptionRefused(cli, `${subjects.cluster(clusterId)}.data.>`),
    PERMISSION,
    "cannot read the data plane",
  );
  t.match(
    await subscriptionRefused(cli, "_INBOX_master.>"),
    PERMISSION,
    "cannot read the master's replies",
  );
});

t.test("the ResourceManager's user may write its lease only", async (t) => {
  const rm = await clientAs("resourcemanager");
  const kv = await new Kvm(jetstream(rm)).open(kvBucketName(clusterId));
  await t.rejects(kv.put("jobs.forged", "{}"), PERMISSION, "cannot write a job record");
  await t.rejects(
    kv.put(leaderKey("dispatcher"), "forged"),
    PERMISSION,
    "cannot forge the Dispatcher's lease",
  );
  t.match(
    await subscriptionRefused(rm, `${subjects.cluster(clusterId)}.data.>`),
    PERMISSION,
    "cannot read the data plane",
  );
});

t.test(
  "job code is the job user: its streams are its account's, the cluster's are not there",
  async (t) => {
    const job = await clientAs("job");
    const jsm = await jetstreamManager(job);
    await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"] });
    await jsm.streams.add({ name: "PAID", subjects: ["paid.>"] });
    const js = jetstream(job);
    const statuses = ["paid", "open", "canceled"] as const;
    for (let i = 0; i < 60; i++)
      await js.publish(
        `orders.${i}`,
        JSON.stringify({
          id: `o${i}`,
          customer: `c${i % 7}`,
          cents: i * 10,
          status: statuses[i % 3],
        }),
      );
    // No `nats` arg: the ETL job's source and sink use the cluster's NATS, as the job user.
    const etl = await cluster.submit("jetstream-etl.ts", { args: { input: "ORDERS" } });
    const ended = await cluster.result(etl, 60_000);
    t.equal(ended.state, JobState.FINISHED, JSON.stringify(ended.flotilla.error));
    t.equal((await jsm.streams.info("PAID")).state.messages, 20, "the paid orders, exactly once");

    const master = await clientAs("master");
    await t.rejects(
      jetstreamManager(master).then((m) => m.streams.info("ORDERS")),
      /stream not found|Permissions Violation/,
      "the cluster's users do not reach the jobs' streams",
    );
    await t.rejects(
      new Kvm(js).open(kvBucketName(clusterId)).then((kv) => kv.get(leaderKey("dispatcher"))),
      /stream not found|bucket not found/i,
      "the job user does not see the HA bucket",
    );
    t.match(
      await requestOutcome(
        job,
        subjects.dispatcher(clusterId),
        encodeRequest({ method: "GET", path: "/overview", headers: AUTH_HEADERS }),
      ),
      /no responders/i,
      "nobody answers the Dispatcher's subject in the job's account",
    );
    // TaskManagers heartbeat the ResourceManager every second on the cluster's subjects; none of
    // it reaches the job's account.
    const seen = job.subscribe(`${subjects.cluster(clusterId)}.>`);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the window the test looks through
    t.equal(seen.getReceived(), 0, "nothing of the cluster's subjects reaches the job user");
  },
);

t.test("the job the roles ran meanwhile ends exactly once", async (t) => {
  const job = await cluster.result(jobId, 120_000);
  t.equal(job.state, JobState.FINISHED, JSON.stringify(job.flotilla.error));
  exactlyOnce(t, await cluster.results(jobId), 8, 4000);
  // The master's user purges what the job left in the HA bucket (forget: no delete markers).
  const jsm = await jetstreamManager(await clientAs("master"));
  const bucket = `$KV.${kvBucketName(clusterId)}`;
  const left = async () => {
    const info = await jsm.streams.info(`KV_${kvBucketName(clusterId)}`, {
      subjects_filter: `${bucket}.>`,
    });
    // Its result stays (the job store keeps it until it expires).
    return Object.keys(info.state.subjects ?? {}).filter(
      (s) => s.includes(jobId) && !s.startsWith(`${bucket}.results.`),
    );
  };
  await cluster.waitFor("the job's records purged", async () =>
    (await left()).length === 0 ? true : undefined,
  );
  t.same(await left(), [], "no job record, checkpoint or marker of the job is left");
});
