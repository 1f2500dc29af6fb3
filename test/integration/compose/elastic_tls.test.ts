/**
 * compose/elastic.yml with compose/elastic-tls.yml, as `flotilla cluster up --layout elastic
 * --tls` starts it: the certificates are made, three `auto` nodes join NATS over mutual TLS with
 * the `node` certificate and elect a master, the CLI reaches the cluster at its tls:// address
 * (the cluster's CA and the cli certificate) and a job finishes exactly once; NATS refuses a
 * client without TLS or without a client certificate, each node's health check passes on its
 * plain-HTTP health port while the REST port serves HTTPS, and no key is in `docker inspect`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import t from "tap";
import { clientCertOf, clientKeyOf, TLS_FILES } from "../../../components/security/mod.ts";
import { type ClusterUp, events, flotilla } from "../../support/cli.ts";
import { natsUserOptions, noTlsKeyInInspect, projectContainers } from "../../support/compose.ts";
import { docker, ensureDocker } from "../../support/docker.ts";
import { freePort } from "../../support/nats.ts";
import { until } from "../../support/poll.ts";
import { runsExactlyOnce } from "../../support/sequence.ts";

t.setTimeout(600_000);

const d = await ensureDocker();
const natsPort = await freePort();
const project = `flotilla-elastic-tls-${natsPort}`;
const clusterId = `et${natsPort}`;
const credentials = mkdtempSync(join(tmpdir(), "flotilla-elastic-tls-"));
const address = `tls://127.0.0.1:${natsPort}`;
const env = {
  ...d.composeEnv,
  FLOTILLA_NATS_PORT: String(natsPort),
  FLOTILLA_CLUSTER_ID: clusterId,
  FLOTILLA_CREDENTIALS_DIR: credentials,
  // The tokens cluster up generates, found by the CLI.
  FLOTILLA_REST_TOKEN_FILE: "",
  FLOTILLA_LOG_LEVEL: "warn",
};
const cluster = (action: string, ...more: string[]) =>
  flotilla(["cluster", action, "--layout", "elastic", "--tls", "--project", project, ...more], env);

t.teardown(async () => {
  await cluster("down");
  rmSync(credentials, { recursive: true, force: true });
});

t.test("up --tls: the nodes join over mutual TLS, the CLI reaches them at tls://", async (t) => {
  const up = await cluster("up", "--scale", "3", "--json");
  t.equal(up.code, 0, up.stderr);
  t.match(events<ClusterUp>(up.stdout).at(-1), {
    cluster: address,
    overview: { taskmanagers: 2 },
  });
});

t.test("a job over NATS TLS finishes exactly once", async (t) => {
  await runsExactlyOnce(t, ["--cluster", address, "--cluster-id", clusterId], env);
});

t.test("NATS takes TLS with a client certificate only", async (t) => {
  const attempt = {
    ...natsUserOptions(credentials, "cli"),
    maxReconnectAttempts: 0,
    timeout: 5000,
  };
  await t.rejects(
    connect({ servers: `nats://127.0.0.1:${natsPort}`, ...attempt }),
    "a client without TLS is refused",
  );
  await t.rejects(
    connect({
      servers: address,
      ...attempt,
      tls: { caFile: join(credentials, TLS_FILES.ca) },
    }),
    "TLS without a client certificate is refused",
  );
  const cli = await connect({
    servers: address,
    ...attempt,
    tls: {
      caFile: join(credentials, TLS_FILES.ca),
      certFile: join(credentials, clientCertOf("cli")),
      keyFile: join(credentials, clientKeyOf("cli")),
    },
  });
  t.teardown(() => cli.close());
  t.ok(cli.info?.tls_verify, "the cli's certificate gets in; the server verifies clients");
});

t.test("every node's health check passes on the plain-HTTP health port", async (t) => {
  const nodes = (
    await docker([
      "ps",
      "-q",
      "--filter",
      `label=com.docker.compose.project=${project}`,
      "--filter",
      "label=com.docker.compose.service=node",
    ])
  ).stdout
    .split("\n")
    .filter(Boolean);
  t.equal(nodes.length, 3);
  for (const id of nodes) {
    const status = await until(
      async () => {
        const r = await docker(["inspect", "--format", "{{.State.Health.Status}}", id]);
        return r.stdout.trim() === "healthy" ? "healthy" : undefined;
      },
      `node ${id.slice(0, 12)} healthy`,
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    t.equal(status, "healthy");
    // The REST port answers HTTPS only, on the leading node as on the others.
    const plain = await docker([
      "exec",
      id,
      "node",
      "-e",
      "fetch('http://127.0.0.1:8081/healthz').then(()=>process.exit(0),()=>process.exit(3))",
    ]);
    t.equal(plain.code, 3, "no plain HTTP on the REST port");
  }
});

t.test("no key in docker inspect", async (t) => {
  await noTlsKeyInInspect(t, credentials, await projectContainers(project), {
    min: 4,
    what: "nats and three nodes",
  });
});

t.test("down leaves nothing", async (t) => {
  const down = await cluster("down");
  t.equal(down.code, 0, down.stderr);
  t.same(await projectContainers(project), []);
});
