/**
 * compose/standalone.yml + ha.yml with standalone-tls.yml and ha-tls.yml, as `flotilla cluster up
 * --layout ha --tls` starts it: NATS runs from the HA config file with TLS from its flags (mutual
 * TLS: a client without TLS or without a client certificate is refused), both masters serve
 * HTTPS (the leader answers, the standby says it is one) and pass their health checks on the
 * plain-HTTP health port, a job over tls:// finishes exactly once, and no key is in
 * `docker inspect`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import t from "tap";
import { TLS_FILES } from "../../../components/security/mod.ts";
import { type ClusterUp, events, flotilla } from "../../support/cli.ts";
import { natsUserOptions, noTlsKeyInInspect, projectContainers } from "../../support/compose.ts";
import { docker, ensureDocker } from "../../support/docker.ts";
import { freePort } from "../../support/nats.ts";
import { until } from "../../support/poll.ts";
import { runsExactlyOnce } from "../../support/sequence.ts";

t.setTimeout(600_000);

const d = await ensureDocker();
const [restPort, standbyPort, natsPort] = [await freePort(), await freePort(), await freePort()];
const project = `flotilla-ha-tls-${natsPort}`;
const credentials = mkdtempSync(join(tmpdir(), "flotilla-ha-tls-"));
const address = `tls://127.0.0.1:${natsPort}`;
// NATS 2.9 (the local stand-in) refuses `sync_interval`: compose/ha.yml names its 2.9 config.
const natsVersion = (await docker(["run", "--rm", d.composeEnv.FLOTILLA_NATS_IMAGE!, "--version"]))
  .stdout;
const [, minor] = (natsVersion.match(/v2\.(\d+)/) ?? []).map(Number);
const env = {
  ...d.composeEnv,
  FLOTILLA_REST_PORT: String(restPort),
  FLOTILLA_STANDBY_REST_PORT: String(standbyPort),
  FLOTILLA_NATS_PORT: String(natsPort),
  FLOTILLA_NATS_CONFIG: minor !== undefined && minor < 10 ? "./nats-ha-2.9.conf" : "./nats-ha.conf",
  FLOTILLA_CREDENTIALS_DIR: credentials,
  // The tokens cluster up generates, found by the CLI.
  FLOTILLA_REST_TOKEN_FILE: "",
  FLOTILLA_LOG_LEVEL: "warn",
};
const ha = (action: string, ...more: string[]) =>
  flotilla(["cluster", action, "--layout", "ha", "--tls", "--project", project, ...more], env);

t.teardown(async () => {
  await ha("down");
  rmSync(credentials, { recursive: true, force: true });
});

t.test("up --tls: NATS on mutual TLS from the HA config, reached at tls://", async (t) => {
  const up = await ha("up", "--scale", "1", "--json");
  t.equal(up.code, 0, up.stderr);
  t.match(events<ClusterUp>(up.stdout).at(-1), { cluster: address, overview: { taskmanagers: 1 } });
});

t.test("both masters serve HTTPS: one leads, the other says it stands by", async (t) => {
  const list = (port: number) =>
    flotilla(["list", "--cluster", `https://127.0.0.1:${port}`, "--json"], env);
  const [leader, standby] = await until(
    async () => {
      const [a, b] = await Promise.all([list(restPort), list(standbyPort)]);
      if (a.code === 0 && b.code !== 0) return [a, b];
      if (b.code === 0 && a.code !== 0) return [b, a];
      return undefined;
    },
    "one master leading over HTTPS",
    { timeoutMs: 90_000, intervalMs: 1000 },
  );
  t.match(leader.stdout, /"jobs"/);
  t.match(standby.stdout + standby.stderr, /is a standby/, "the standby answered over HTTPS");
  for (const service of ["master", "master-standby"]) {
    const [id] = await projectContainers(project, `label=com.docker.compose.service=${service}`);
    const healthy = await until(
      async () =>
        (await docker(["inspect", "--format", "{{.State.Health.Status}}", id!])).stdout.trim() ===
        "healthy",
      `${service} healthy`,
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    t.ok(healthy, `${service}'s health check passes on the plain-HTTP health port`);
  }
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
    connect({ servers: address, ...attempt, tls: { caFile: join(credentials, TLS_FILES.ca) } }),
    "TLS without a client certificate is refused",
  );
});

t.test("a job over NATS TLS finishes exactly once", async (t) => {
  await runsExactlyOnce(t, ["--cluster", address], env);
});

t.test("no key in docker inspect", async (t) => {
  await noTlsKeyInInspect(t, credentials, await projectContainers(project), {
    min: 4,
    what: "nats, two masters and a TaskManager",
  });
});

t.test("down leaves nothing", async (t) => {
  const down = await ha("down");
  t.equal(down.code, 0, down.stderr);
  t.same(await projectContainers(project), []);
});
