/**
 * compose/standalone.yml with the compose/standalone-tls.yml overlay, the way a user starts it:
 * `flotilla cluster up --layout standalone --tls` makes the certificates, the stack comes up with
 * NATS on mutual TLS and the REST API on HTTPS, a job runs through `flotilla run --cluster
 * https://...` (the CLI checks the certificate with the cluster's CA), and plain HTTP gets nothing.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { TLS_FILES } from "../../../components/security/mod.ts";
import { type ClusterUp, events, flotilla } from "../../support/cli.ts";
import { ensureDocker } from "../../support/docker.ts";
import { freePort } from "../../support/nats.ts";

t.setTimeout(600_000);

const d = await ensureDocker();
const port = await freePort();
const project = `flotilla-tls-${port}`;
const credentials = mkdtempSync(join(tmpdir(), "flotilla-tls-credentials-"));
const env = {
  ...d.composeEnv,
  FLOTILLA_REST_PORT: String(port),
  FLOTILLA_CREDENTIALS_DIR: credentials,
  // The tokens cluster up generates, found by the CLI.
  FLOTILLA_REST_TOKEN_FILE: "",
};
const cluster = (action: string, ...more: string[]) =>
  flotilla(
    ["cluster", action, "--layout", "standalone", "--tls", "--project", project, ...more],
    env,
  );

t.teardown(async () => {
  await cluster("down");
  rmSync(credentials, { recursive: true, force: true });
});

t.test("up --tls: certificates made, the REST API on HTTPS, TaskManagers over TLS", async (t) => {
  const up = await cluster("up", "--scale", "1", "--json");
  t.equal(up.code, 0, up.stderr);
  t.match(events<ClusterUp>(up.stdout).at(-1), {
    rest: `https://127.0.0.1:${port}`,
    overview: { taskmanagers: 1 },
  });
  t.ok(existsSync(join(credentials, TLS_FILES.ca)), "the cluster's CA is in the credentials dir");
  await t.rejects(fetch(`http://127.0.0.1:${port}/healthz`), "no plain HTTP on the REST port");
});

t.test("a job runs over HTTPS and NATS TLS", async (t) => {
  const run = await flotilla(
    [
      "run",
      "examples/wordcount.ts",
      "--cluster",
      `https://127.0.0.1:${port}`,
      // The TaskManagers' /data is examples/data, as in the standalone layout.
      "--arg",
      "input=/data/words.txt",
    ],
    env,
  );
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /\{"word":"to","count":13\}/);
});

t.test("down leaves nothing", async (t) => {
  const down = await cluster("down");
  t.equal(down.code, 0, down.stderr);
});
