/**
 * The Dispatcher's graph sandbox, run as the roles run it: the flotilla executable started under
 * Node's permission model builds a job's graph. The job's code there sees no environment, cannot
 * read the cluster's credentials (mounted beside the job's secrets), write or start a process; it
 * reads its own secrets; a job that never returns is stopped at the deadline and the sandbox's
 * structure equals the one built in process.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { getPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import { silentLogger } from "../../components/core/mod.ts";
import { artifactHash, bundleJob } from "../../components/dataflow/internal_mod.ts";
import { inProcessGraphBuilder, sandboxedGraphBuilder } from "../../components/dispatcher/mod.ts";
import { startSandboxProcess } from "../../components/dispatcher/sandbox_process.ts";
import { clusterFor } from "../support/cluster.ts";
import { natsFor } from "../support/tap.ts";

t.setTimeout(120_000);

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "flotilla-sandbox-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const secrets = join(dir, "secrets");
mkdirSync(secrets);
writeFileSync(join(secrets, "db-password"), "hunter2\n");
writeFileSync(join(secrets, "nats-master.nk"), "SUAMASTERSEED\n");

const sandbox = sandboxedGraphBuilder({
  entry: join(ROOT, "bin/flotilla.js"),
  secretsDir: secrets,
  timeoutMs: 5000,
  log: silentLogger,
});

async function artifact(file: string) {
  const bytes = await bundleJob(join(ROOT, file));
  return { artifact: await artifactHash(bytes), bytes };
}

const probe = await artifact("test/support/jobs/sandbox_probe.ts");

t.test(
  "job code in the sandbox: no environment, no cluster credentials, no writes, no processes",
  async (t) => {
    const topology = await sandbox({
      ...probe,
      args: { read: join(secrets, "nats-master.nk"), secret: "db-password" },
    });
    const found = JSON.parse(topology.vertices[0]!.name.split(" -> ")[0]!) as Record<
      string,
      unknown
    >;
    t.equal(found.env, 0, "an empty environment");
    t.equal(found.read, "ERR_ACCESS_DENIED", "the cluster's credential file is unreadable");
    t.equal(found.write, "ERR_ACCESS_DENIED", "no file can be written");
    t.equal(found.spawn, "ERR_ACCESS_DENIED", "no process can be started");
    t.equal(found.secret, "hunter2", "the job's own secret is readable through env.secret");
  },
);

t.test(
  "in this process the same job reads what it likes: what the sandbox takes away",
  async (t) => {
    const topology = await inProcessGraphBuilder()({
      ...probe,
      args: { read: join(secrets, "nats-master.nk") },
    });
    const found = JSON.parse(topology.vertices[0]!.name.split(" -> ")[0]!) as Record<
      string,
      unknown
    >;
    t.equal(found.read, "allowed");
    t.ok((found.env as number) > 0);
  },
);

t.test("the sandbox's structure is the one built in process", async (t) => {
  const wordcount = await artifact("examples/wordcount.ts");
  const request = { ...wordcount, args: { input: "x" }, parallelism: 3 };
  t.same(await sandbox(request), await inProcessGraphBuilder()(request));
});

t.test(
  "a job that never returns is stopped at the deadline, and the sandbox keeps serving",
  async (t) => {
    await t.rejects(sandbox({ ...probe, args: { loop: "true" } }), {
      code: "INVALID_ARGUMENT",
      message: /took longer than 5000 ms \(dispatcher\.graph-timeout\)/,
    });
    const after = await sandbox({ ...probe, args: { read: "/nonexistent" } });
    t.equal(after.options.name, "sandbox-probe");
  },
);

t.test("a flood of submissions waits in a bounded queue; past it, 429 at once", async (t) => {
  const small = sandboxedGraphBuilder({
    entry: join(ROOT, "bin/flotilla.js"),
    secretsDir: secrets,
    timeoutMs: 1500,
    concurrency: 1,
    maxWaiting: 1,
    log: silentLogger,
  });
  const looping = () => small({ ...probe, args: { loop: "true" } });
  const outcomes = await Promise.allSettled([looping(), looping(), looping(), looping()]);
  const codes = outcomes.map((o) =>
    o.status === "rejected" ? (o.reason as { code: string }).code : "built",
  );
  t.same(
    codes,
    ["INVALID_ARGUMENT", "INVALID_ARGUMENT", "TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS"],
    "one built (and timed out), one waited (and timed out), two refused",
  );
  t.match((outcomes[2] as PromiseRejectedResult).reason, {
    message: /1 job graphs are waiting to be built already/,
  });
  const after = await small({ ...probe, args: { read: "/nonexistent" } });
  t.equal(after.options.name, "sandbox-probe", "the queue serves again once drained");

  const impatient = sandboxedGraphBuilder({
    entry: join(ROOT, "bin/flotilla.js"),
    secretsDir: secrets,
    timeoutMs: 1500,
    concurrency: 1,
    maxWaitMs: 200,
    log: silentLogger,
  });
  const [first, second, recovered] = await Promise.allSettled([
    impatient({ ...probe, args: { loop: "true" } }),
    impatient({ ...probe, args: { read: "/nonexistent" } }),
    impatient({ ...probe, args: { read: "/nonexistent" }, accepted: true }),
  ]);
  t.match(first, { status: "rejected", reason: { code: "INVALID_ARGUMENT" } });
  t.match(
    second,
    { status: "rejected", reason: { code: "TOO_MANY_REQUESTS", message: /for 200 ms/ } },
    "a new submission waits 200 ms at most",
  );
  t.match(recovered, { status: "fulfilled" }, "a recovered job waits for its turn");
});

t.test("a job that fails to build is a typed error naming why", async (t) => {
  await t.rejects(sandbox({ ...probe, args: {} }), {
    code: "INVALID_ARGUMENT",
    message: /job argument 'read' is missing/,
  });
  await t.rejects(sandbox({ ...probe, args: { read: "/x", secret: "nats-master.nk" } }), {
    message: /one of the cluster's own credentials/,
  });
  await t.rejects(sandbox({ ...probe, artifact: "0".repeat(64), args: { read: "/x" } }), {
    code: "CONFLICT",
  });
});

t.test("an answer the job's code forged is refused, never acted on", async (t) => {
  const forger = await artifact("test/support/jobs/sandbox_forger.ts");
  await t.rejects(sandbox({ ...forger, args: { forge: "huge" } }), {
    code: "INVALID_ARGUMENT",
    message: /no valid job structure: .*parallelism/,
  });
  await t.rejects(sandbox({ ...forger, args: { forge: "inconsistent" } }), {
    code: "INVALID_ARGUMENT",
    message: /do not follow from its vertices/,
  });
});

t.test("a master started as users start it builds graphs in the sandbox", async (t) => {
  const nats = await natsFor(t);
  const cluster = await clusterFor(t, nats, {
    roles: ["master"],
    env: { FLOTILLA_SECRETS_DIR: secrets },
    ready: (c) => c.overview(),
  });
  // The file the master itself reads its token from: its job's code must not.
  const jobId = await cluster.submit("test/support/jobs/sandbox_probe.ts", {
    args: { read: cluster.env.FLOTILLA_REST_TOKEN_FILE!, secret: "db-password" },
  });
  const job = await cluster.job(jobId);
  const found = JSON.parse(job.vertices[0]!.name.split(" -> ")[0]!) as Record<string, unknown>;
  t.same(found, {
    env: 0,
    read: "ERR_ACCESS_DENIED",
    write: "ERR_ACCESS_DENIED",
    spawn: "ERR_ACCESS_DENIED",
    secret: "hunter2",
  });
});

t.test("a sandbox runs below the blocks' priority (nice 10)", async (t) => {
  const sandbox = startSandboxProcess([join(ROOT, "bin/flotilla.js"), "version"], []);
  t.teardown(() => sandbox.kill());
  t.ok(sandbox.pid, "started");
  t.equal(getPriority(sandbox.pid!), Math.min(19, getPriority() + 10));
});
