/**
 * compose/session.yml with compose/session-tls.yml, as `flotilla cluster up --layout session
 * --tls` starts it: the ResourceManager's docker driver hands each TaskManager container it starts
 * the CA, its certificate and key (copied in, in no `docker inspect`), the container joins NATS
 * over mutual TLS, and a job submitted over HTTPS finishes exactly once.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { clientKeyOf } from "../../../components/security/mod.ts";
import { type ClusterUp, eventOf, events, flotilla } from "../../support/cli.ts";
import { docker, ensureDocker } from "../../support/docker.ts";
import { freePort } from "../../support/nats.ts";
import { exactlyOnce } from "../../support/sequence.ts";

t.setTimeout(600_000);

const d = await ensureDocker();
const port = await freePort();
const project = `flotilla-session-tls-${port}`;
const clusterId = `st${port}`;
const credentials = mkdtempSync(join(tmpdir(), "flotilla-session-tls-"));
const env = {
  ...d.composeEnv,
  FLOTILLA_REST_PORT: String(port),
  FLOTILLA_CLUSTER_ID: clusterId,
  FLOTILLA_NETWORK: project,
  FLOTILLA_CREDENTIALS_DIR: credentials,
  FLOTILLA_REST_TOKEN_FILE: "",
};
const session = (action: string, ...more: string[]) =>
  flotilla(["cluster", action, "--layout", "session", "--tls", "--project", project, ...more], env);

t.teardown(async () => {
  await session("down");
  rmSync(credentials, { recursive: true, force: true });
});

t.test("a job over HTTPS gets a TaskManager container that joins over mutual TLS", async (t) => {
  const up = await session("up", "--json");
  t.equal(up.code, 0, up.stderr);
  t.match(events<ClusterUp>(up.stdout).at(-1), { rest: `https://127.0.0.1:${port}` });
  const run = await flotilla(
    [
      "run",
      "examples/sequence-check.ts",
      "--cluster",
      `https://127.0.0.1:${port}`,
      "--json",
      "--arg",
      "keys=4",
      "--arg",
      "perKey=500",
      "--parallelism",
      "2",
    ],
    env,
  );
  t.equal(run.code, 0, run.stderr);
  exactlyOnce(t, eventOf(events(run.stdout), "ended").results, 4, 500);
  const started = (
    await docker(["ps", "-q", "--filter", `label=org.flotilla.cluster=${clusterId}`])
  ).stdout
    .split("\n")
    .filter(Boolean);
  t.ok(started.length > 0, "the driver started TaskManager containers");
  const key = readFileSync(join(credentials, clientKeyOf("taskmanager")), "utf8").trim();
  for (const id of started) {
    const inspected = (await docker(["inspect", id])).stdout;
    t.notMatch(
      inspected,
      key.split("\n")[1]!,
      "the TaskManager's TLS key is not in docker inspect",
    );
    t.match(inspected, /FLOTILLA_NATS_TLS_KEY_FILE=\/run\/secrets\/tls-taskmanager\.key/);
  }
});
