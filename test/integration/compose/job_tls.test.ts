/**
 * compose/job.yml with compose/job-tls.yml, as `flotilla run <job> --target compose-job --tls`
 * runs it: the certificates are made, the jobmanager and the TaskManagers (and the job's own
 * connection) join NATS over mutual TLS, and the exactly-once check finishes with every key
 * counted once (its verdict rows read from the TaskManagers' logs: a per-job stack publishes no
 * port). NATS, inside the stack's network, refuses a plain client, and no key is in
 * `docker inspect` of the kept stack.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { JobState } from "../../../components/core/mod.ts";
import { TLS_FILES } from "../../../components/security/mod.ts";
import { events, flotilla, type JobStackEvent } from "../../support/cli.ts";
import { noTlsKeyInInspect, projectContainers } from "../../support/compose.ts";
import { docker, ensureDocker } from "../../support/docker.ts";
import { exactlyOnce } from "../../support/sequence.ts";

t.setTimeout(600_000);

const d = await ensureDocker();
const project = `flotilla-job-tls-${process.pid}`;
const credentials = mkdtempSync(join(tmpdir(), "flotilla-job-tls-"));
const env = {
  ...d.composeEnv,
  FLOTILLA_CREDENTIALS_DIR: credentials,
  // The TaskManagers log the job's verdict rows at info.
  FLOTILLA_LOG_LEVEL: "info",
};
const down = () =>
  flotilla(["cluster", "down", "--layout", "job", "--tls", "--project", project], env);

t.teardown(async () => {
  await down();
  rmSync(credentials, { recursive: true, force: true });
});

t.test("the stack runs the job over mutual TLS, exactly once", async (t) => {
  const run = await flotilla(
    [
      "run",
      "test/support/jobs/logged_sequence.ts",
      "--target",
      "compose-job",
      "--tls",
      "--project",
      project,
      "--keep",
      "--json",
      "--arg",
      "keys=4",
      "--arg",
      "perKey=500",
    ],
    env,
  );
  t.equal(
    run.code,
    0,
    run.code === 0 ? "the job's stack exited 0" : `${run.stdout}\n${run.stderr}`,
  );
  t.match(events<JobStackEvent>(run.stdout).at(-1), {
    event: "ended",
    state: JobState.FINISHED,
    exitCode: 0,
  });
  t.ok(readdirSync(credentials).includes(TLS_FILES.ca), "the cluster's CA was made");
  const tms = await projectContainers(project, "label=com.docker.compose.service=taskmanager");
  t.ok(tms.length > 0, "the kept TaskManagers");
  const rows: unknown[] = [];
  for (const id of tms) {
    const logs = await docker(["logs", id]);
    for (const line of `${logs.stdout}\n${logs.stderr}`.split("\n")) {
      if (!line.includes('"msg":"sequence-check"')) continue;
      const entry = JSON.parse(line) as { value?: unknown };
      rows.push(entry.value);
    }
  }
  exactlyOnce(t, { log: rows }, 4, 500);
});

t.test("NATS refuses a plain client inside the stack's network", async (t) => {
  const [nats] = await projectContainers(project, "label=com.docker.compose.service=nats");
  t.ok(nats, "the kept nats container");
  const started = await docker(["start", nats!]);
  t.equal(started.code, 0, `nats started again${started.code ? `: ${started.stderr}` : ""}`);
  // A plain client: reads NATS's INFO, then speaks the protocol without TLS. A server that
  // takes TLS only closes the connection instead of answering the PING.
  const probe = `
    const socket = require("net").connect(4222, "nats");
    let got = "", sent = false;
    socket.on("data", (c) => {
      got += c;
      if (!sent && got.includes("\\r\\n")) {
        sent = true;
        socket.write('CONNECT {"verbose":false,"pedantic":false}\\r\\nPING\\r\\n');
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => { console.log(JSON.stringify(got)); process.exit(0); });
    // A deadline, not a wait: an open connection after it is the failure.
    setTimeout(() => { console.log(JSON.stringify(got + "<still open>")); process.exit(0); }, 10000);`;
  const r = await docker([
    "run",
    "--rm",
    "--network",
    `${project}_default`,
    "--entrypoint",
    "node",
    d.images.taskmanager,
    "-e",
    probe,
  ]);
  t.equal(r.code, 0, `the probe ran${r.code ? `: ${r.stderr}` : ""}`);
  const got = JSON.parse(r.stdout.trim().split("\n")[0]!) as string;
  const info = JSON.parse(/^INFO (\{.*\})/.exec(got)?.[1] ?? "{}") as {
    tls_required?: boolean;
    tls_verify?: boolean;
  };
  t.ok(info.tls_required, "the server requires TLS");
  t.ok(info.tls_verify, "and a client certificate");
  t.notMatch(got, "PONG", "the plain client got no answer");
  t.notMatch(got, "<still open>", "the server closed the connection");
});

t.test("no key in docker inspect", async (t) => {
  await noTlsKeyInInspect(t, credentials, await projectContainers(project), {
    min: 3,
    what: "nats, the jobmanager and a TaskManager",
  });
});

t.test("down leaves nothing", async (t) => {
  const result = await down();
  t.equal(result.code, 0, result.stderr);
  t.same(await projectContainers(project), []);
});
