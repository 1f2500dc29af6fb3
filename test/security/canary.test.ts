/**
 * A canary secret through a whole job on an authenticated cluster (real nats-server with the
 * generated users; a master and two TaskManagers as their users, logging at debug): the job reads
 * it with env.secret where its graph is built and in its tasks, and it then appears in no log
 * line, no REST answer, no value of the HA bucket, no object of the blob store and no message the
 * job user sees. Each sweep first finds a probe it must find (a job argument, the job's name, its
 * id), so a sweep that looks nowhere fails instead of passing.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Objm } from "@nats-io/obj";
import t from "tap";
import { blobBucketName, JobState, kvBucketName } from "../../components/core/mod.ts";
import type { NatsUser } from "../../components/security/mod.ts";
import { clusterFor } from "../support/cluster.ts";
import { securedNatsFor } from "../support/secured_nats.ts";

t.setTimeout(180_000);

const clusterId = `can${process.pid}`;
const { dir, nats, roleEnv, clientAs } = await securedNatsFor(t, clusterId);
const jobSecrets = join(dir, "job-secrets");
mkdirSync(jobSecrets, { mode: 0o700 });
const canary = `canary-${randomBytes(12).toString("hex")}`;
writeFileSync(join(jobSecrets, "job"), `${canary}\n`);
// Not secret: a job argument, which the job record keeps (the KV sweep's probe).
const argProbe = `argprobe-${randomBytes(6).toString("hex")}`;

const as = (user: NatsUser) => ({
  ...roleEnv(user),
  FLOTILLA_SECRETS_DIR: jobSecrets,
  FLOTILLA_LOG_LEVEL: "debug",
});

const logs: string[] = [];
const cluster = await clusterFor(t, nats, {
  roles: [],
  env: { FLOTILLA_CLUSTER_ID: clusterId },
  ready: async () => {},
});
for (const [role, user] of [
  ["master", "master"],
  ["taskmanager", "taskmanager"],
  ["taskmanager", "taskmanager"],
] as const)
  cluster.spawn(role, as(user), { onLine: (line) => logs.push(line) });
await cluster.waitFor("two TaskManagers", async () =>
  (await cluster.overview().catch(() => undefined))?.taskmanagers === 2 ? true : undefined,
);

// Everything the job user sees while the job runs.
const jobUser = await clientAs("job");
const seen: Uint8Array[] = [];
const everything = jobUser.subscribe(">", {
  callback: (_err, msg) => {
    seen.push(msg.data);
  },
});
jobUser.publish("probe.canary-test", "the job user's own probe");

// Every value the HA bucket holds while the job runs (records are deleted once it ends).
const master = await clientAs("master");
const kv = await new Kvm(jetstream(master)).open(kvBucketName(clusterId));
const values: Uint8Array[] = [];
const watching = await kv.watch();
void (async () => {
  for await (const entry of watching) if (entry.value.length > 0) values.push(entry.value);
})();

const jobId = await cluster.submit("test/support/jobs/secret.ts", {
  args: { expect: createHash("sha256").update(canary).digest("hex"), note: argProbe },
});
const ended = await cluster.result(jobId, 60_000);

const has = (bytes: Uint8Array | string, needle: string) =>
  Buffer.from(typeof bytes === "string" ? bytes : bytes).includes(needle);

t.test("the job read the canary where its graph was built and in its tasks", async (t) => {
  t.equal(ended.state, JobState.FINISHED, JSON.stringify(ended.flotilla.error));
});

t.test("no log line carries it", async (t) => {
  t.ok(
    logs.some((line) => has(line, jobId)),
    `probe: the job id is in the logs (${logs.length} lines)`,
  );
  t.same(
    logs.filter((line) => has(line, canary)),
    [],
    "no line with the canary",
  );
});

t.test("no REST answer carries it", async (t) => {
  const paths = [
    "/overview",
    "/config",
    "/taskmanagers",
    "/jobs",
    `/jobs/${jobId}`,
    `/jobs/${jobId}/results`,
    `/jobs/${jobId}/resource-requirements`,
    "/metrics",
  ];
  const answers = await Promise.all(
    paths.map(async (path) => JSON.stringify((await cluster.call("GET", path)).body)),
  );
  t.ok(
    answers.some((a) => has(a, "secret-check")),
    "probe: the job's name is in the answers",
  );
  for (const [i, answer] of answers.entries()) t.notOk(has(answer, canary), paths[i]!);
});

t.test("no value of the HA bucket and no stored object carries it", async (t) => {
  watching.stop();
  t.ok(
    values.some((v) => has(v, argProbe)),
    `probe: the job record's argument was in the bucket (${values.length} values)`,
  );
  t.notOk(
    values.some((v) => has(v, canary)),
    "no value it held had the canary",
  );
  const store = await new Objm(master).open(blobBucketName(clusterId));
  const objects: Uint8Array[] = [];
  for (const info of await store.list()) {
    const bytes = await store.getBlob(info.name);
    if (bytes) objects.push(bytes);
  }
  t.ok(
    objects.some((o) => has(o, "secret-check")),
    `probe: the job's artifact is in the store (${objects.length} objects)`,
  );
  t.notOk(
    objects.some((o) => has(o, canary)),
    "no object with the canary",
  );
});

t.test("no message the job user sees carries it", async (t) => {
  await jobUser.flush();
  everything.unsubscribe();
  t.ok(
    seen.some((m) => has(m, "the job user's own probe")),
    `probe: the subscription sees the account (${seen.length} messages)`,
  );
  t.notOk(
    seen.some((m) => has(m, canary)),
    "no message with the canary",
  );
});
