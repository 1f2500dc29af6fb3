/**
 * TLS with the certificates `flotilla cluster secrets --tls` makes, against a real nats-server
 * that takes TLS only and wants a client certificate (mutual TLS) besides each role's nkey: a
 * master (REST on HTTPS) and two TaskManagers run an exactly-once job; a client without TLS, or
 * with TLS but no client certificate, is refused; the REST API answers HTTPS only, and the CLI
 * reaches it with the cluster's CA.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import t from "tap";
import { JobState } from "../../components/core/mod.ts";
import {
  clientCertOf,
  clientKeyOf,
  ensureClusterSecrets,
  ensureTlsFiles,
  NATS_AUTH_CONF,
  type NatsUser,
  nkeyFileOf,
  TLS_FILES,
} from "../../components/security/mod.ts";
import { flotilla } from "../support/cli.ts";
import { clusterFor } from "../support/cluster.ts";
import { natsUserOptions } from "../support/compose.ts";
import { freePort } from "../support/nats.ts";
import { exactlyOnce } from "../support/sequence.ts";
import { natsFor } from "../support/tap.ts";

t.setTimeout(240_000);

const clusterId = `tls${process.pid}`;
const root = mkdtempSync(join(tmpdir(), "flotilla-tls-"));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const secrets = ensureClusterSecrets(join(root, "credentials"), { clusterId });
const dir = secrets.dir;
const made = ensureTlsFiles(dir);
const file = (name: string) => join(dir, name);
const ca = readFileSync(file(TLS_FILES.ca), "utf8");

const tlsOf = (user: NatsUser) => ({
  caFile: file(TLS_FILES.ca),
  certFile: file(clientCertOf(user)),
  keyFile: file(clientKeyOf(user)),
});
const nats = await natsFor(t, {
  authorization: readFileSync(secrets.files[NATS_AUTH_CONF]!, "utf8"),
  tls: {
    cert: file(TLS_FILES.natsCert),
    key: file(TLS_FILES.natsKey),
    ca: file(TLS_FILES.ca),
    verify: true,
  },
  clientOptions: { ...natsUserOptions(dir, "master"), tls: tlsOf("master") },
});

/** A role's environment: its nkey, its own reply inbox, its client certificate. */
const as = (user: NatsUser): Record<string, string> => ({
  FLOTILLA_NATS_NKEY_FILE: file(nkeyFileOf(user)),
  FLOTILLA_NATS_INBOX_PREFIX: `_INBOX_${user}`,
  FLOTILLA_NATS_TLS_CA_FILE: file(TLS_FILES.ca),
  FLOTILLA_NATS_TLS_CERT_FILE: file(clientCertOf(user)),
  FLOTILLA_NATS_TLS_KEY_FILE: file(clientKeyOf(user)),
});

const healthPort = await freePort();
const cluster = await clusterFor(t, nats, {
  roles: [],
  env: { FLOTILLA_CLUSTER_ID: clusterId },
  ready: async () => {},
  restCa: ca,
});
cluster.spawn("master", {
  ...as("master"),
  FLOTILLA_REST_TLS_CERT_FILE: file(TLS_FILES.restCert),
  FLOTILLA_REST_TLS_KEY_FILE: file(TLS_FILES.restKey),
  FLOTILLA_HEALTH_PORT: String(healthPort),
});
cluster.spawn("taskmanager", as("taskmanager"));
cluster.spawn("taskmanager", as("taskmanager"));
await cluster.waitFor("two TaskManagers over TLS", async () =>
  (await cluster.overview().catch(() => undefined))?.taskmanagers === 2 ? true : undefined,
);
const jobId = await cluster.submit("sequence-check.ts", {
  args: { keys: "8", perKey: "2000", rate: "4000" },
  parallelism: 4,
});

t.test(
  "the certificates: a CA, server certificates, one client certificate per user",
  async (t) => {
    for (const name of [TLS_FILES.ca, TLS_FILES.natsCert, TLS_FILES.restCert, clientCertOf("cli")])
      t.ok(made.includes(name), `${name} made`);
    t.same(ensureTlsFiles(dir), [], "a second run keeps them");
  },
);

t.test("NATS takes TLS with a client certificate only", async (t) => {
  const plain = nats.url.replace(/^tls:/, "nats:");
  await t.rejects(
    connect({
      servers: plain,
      ...natsUserOptions(dir, "cli"),
      maxReconnectAttempts: 0,
      timeout: 3000,
    }),
    "a client without TLS is refused",
  );
  await t.rejects(
    connect({
      servers: nats.url,
      ...natsUserOptions(dir, "cli"),
      tls: { caFile: file(TLS_FILES.ca) },
      maxReconnectAttempts: 0,
      timeout: 3000,
    }),
    "TLS without a client certificate is refused",
  );
  const cli = await connect({
    servers: nats.url,
    ...natsUserOptions(dir, "cli"),
    tls: tlsOf("cli"),
    maxReconnectAttempts: 0,
  });
  t.teardown(() => cli.close());
  t.ok(cli.info?.tls_required, "the cli's certificate gets in");
});

t.test("the REST API answers HTTPS only; the CLI checks it with the cluster's CA", async (t) => {
  const port = new URL(cluster.rest).port;
  await t.rejects(fetch(`http://127.0.0.1:${port}/healthz`), "plain HTTP on the REST port fails");
  const health = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
  t.equal(health.status, 200, "the health port answers plain HTTP for a container HEALTHCHECK");
  const list = await flotilla(["list", "--cluster", cluster.rest, "--json"], {
    FLOTILLA_REST_TLS_CA_FILE: file(TLS_FILES.ca),
  });
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, jobId, "the CLI lists the job over HTTPS");
  const untrusted = await flotilla(["list", "--cluster", cluster.rest], {
    FLOTILLA_CREDENTIALS_DIR: join(root, "elsewhere"),
  });
  t.not(untrusted.code, 0, "without the CA the CLI refuses the certificate");
  t.match(untrusted.stderr, /certificate/i);
});

t.test("the job the roles ran over TLS ends exactly once", async (t) => {
  const job = await cluster.result(jobId, 120_000);
  t.equal(job.state, JobState.FINISHED, JSON.stringify(job.flotilla.error));
  exactlyOnce(t, await cluster.results(jobId), 8, 2000);
});
