/**
 * Job code's NATS: what a job's connection to the cluster's NATS authenticates as (the job user,
 * never the block's own credentials), and that a TaskManager's job connections close once the
 * job has left, against a real nats-server with the generated users; and that every credential
 * file the cluster's secrets commands make is a name env.secret refuses.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import {
  type Config,
  compileConfig,
  InvalidConfigError,
  isClusterCredentialName,
  parseJobId,
  silentLogger,
} from "../../../components/core/mod.ts";
import {
  ensureClusterSecrets,
  ensureTlsFiles,
  jobNatsConnectOptions,
  jobNatsConnector,
  nkeyFileOf,
} from "../../../components/security/mod.ts";
import { JobConnections } from "../../../components/taskmanager/job_connections.ts";
import { natsUserOptions } from "../../support/compose.ts";
import { natsFor } from "../../support/tap.ts";

const dir = mkdtempSync(join(tmpdir(), "flotilla-job-nats-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const secrets = ensureClusterSecrets(join(dir, "c"), { clusterId: "jobnats" });
const nats = await natsFor(t, {
  authorization: readFileSync(secrets.files["nats-auth.conf"]!, "utf8"),
  clientOptions: natsUserOptions(secrets.dir, "master"),
});
const seed = (user: "taskmanager" | "job") => join(secrets.dir, nkeyFileOf(user));
const configOf = (flags: Record<string, unknown>): Config =>
  compileConfig({ env: {}, flags: { "nats.url": nats.url, ...flags } });

t.test("a job's connection options", async (t) => {
  const tm = configOf({ "nats.nkey-file": seed("taskmanager") });
  const refusal = (() => {
    try {
      jobNatsConnectOptions(tm);
    } catch (err) {
      return err;
    }
  })();
  t.ok(
    refusal instanceof InvalidConfigError,
    "a cluster with users but no job user: a config error",
  );
  t.match(
    (refusal as Error).message,
    /nats\.job-nkey-file/,
    "naming the key, and not falling back to the block's credentials",
  );
  t.same(
    jobNatsConnectOptions(tm, "nats://elsewhere:4222"),
    { servers: ["nats://elsewhere:4222"] },
    "servers the job names: those, with nothing of the cluster's",
  );
  const withJob = jobNatsConnectOptions({ ...tm, "nats.job-nkey-file": seed("job") });
  t.ok(withJob.authenticator, "the job user's nkey");
  t.notOk(withJob.inboxPrefix, "its own account's inbox, not the block's");
  t.same(jobNatsConnectOptions(configOf({})), { servers: [nats.url] }, "an open cluster: as is");
  t.throws(
    () => jobNatsConnectOptions({ ...tm, "nats.job-nkey-file": secrets.files["nats-auth.conf"]! }),
    /does not hold an nkey seed/,
    "a file that is no seed is named",
  );
});

t.test(
  "the connector connects as the job user; a TaskManager closes a job's connections when it leaves",
  async (t) => {
    const open = jobNatsConnector(
      configOf({ "nats.nkey-file": seed("taskmanager"), "nats.job-nkey-file": seed("job") }),
    );
    const connections = new JobConnections(open, silentLogger);
    const jobA = parseJobId("a".repeat(32));
    const jobB = parseJobId("b".repeat(32));
    const a = await connections.for(jobA);
    t.equal(await connections.for(jobA), a, "one connection per job, shared by its subtasks");
    const b = await connections.for(jobB);
    t.not(b, a, "another job gets its own");
    // The job account's JetStream: the cluster's account has none of these streams.
    const { jetstreamManager } = await import("@nats-io/jetstream");
    await (await jetstreamManager(a)).streams.add({ name: "JOBSTREAM", subjects: ["js.>"] });
    t.equal((await (await jetstreamManager(b)).streams.info("JOBSTREAM")).config.name, "JOBSTREAM");
    await connections.forget(jobA);
    t.ok(a.isClosed(), "the job that left: its connection is closed");
    t.notOk(b.isClosed(), "the other job's is not");
    t.same(connections.jobs(), [jobB]);
    await connections.closeAll();
    t.ok(b.isClosed());
    const refused = new JobConnections(
      jobNatsConnector(configOf({ "nats.nkey-file": seed("taskmanager") })),
      silentLogger,
    );
    await t.rejects(refused.for(jobA), /nats\.job-nkey-file/, "no job user: the open is refused");
  },
);

t.test(
  "every file flotilla cluster secrets (--tls) makes is a reserved name env.secret refuses",
  async (t) => {
    const made = join(dir, "all");
    ensureClusterSecrets(made, { clusterId: "jobnats" });
    ensureTlsFiles(made);
    const files = readdirSync(made);
    t.ok(files.length > 20, `${files.length} files`);
    for (const file of files) t.ok(isClusterCredentialName(file), file);
  },
);
