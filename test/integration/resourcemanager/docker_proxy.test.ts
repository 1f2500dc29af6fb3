/**
 * The Docker socket proxy in front of the real Engine: the docker driver works through it
 * unchanged (create, files, start, events, stop, remove), other containers are invisible and
 * untouchable through it, and a create it refuses comes back as a 403 in the Engine's words.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { ErrorCode } from "../../../components/core/mod.ts";
import { startDockerProxy } from "../../../components/resourcemanager/docker_proxy/mod.ts";
import {
  DOCKER_LABELS,
  DockerEngineError,
  dockerDriver,
  dockerEngine,
  profile,
} from "../../../components/resourcemanager/mod.ts";
import { docker, ensureDocker } from "../../support/docker.ts";

const { images } = await ensureDocker();
const clusterId = `dp${randomBytes(4).toString("hex")}`;
const network = `flotilla-test-${clusterId}`;
const dir = mkdtempSync(join(tmpdir(), "flotilla-proxy-"));
const listenPath = join(dir, "docker.sock");
const outsider = `flotilla-test-outsider-${clusterId}`;

let cleaned = false;
function cleanUp(): void {
  if (cleaned) return;
  cleaned = true;
  const run = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" });
  try {
    const ids = run("ps", "-aq", "--filter", `label=${DOCKER_LABELS.cluster}=${clusterId}`).trim();
    if (ids) run("rm", "-f", "-v", ...ids.split("\n"));
    run("rm", "-f", outsider);
    run("network", "rm", network);
  } catch {
    // best effort: what is gone is gone
  }
  rmSync(dir, { recursive: true, force: true });
}
process.once("exit", cleanUp);

const direct = dockerEngine();
await direct.call("POST", "/networks/create", { body: { Name: network } });
const made = await docker(["create", "--name", outsider, images.taskmanager]);
if (made.code !== 0) throw new Error(`docker create failed: ${made.stderr}`);
const proxy = await startDockerProxy({
  listenPath,
  clusterId,
  image: images.taskmanager,
  network,
});
t.teardown(async () => {
  await proxy.close();
  cleanUp();
});
const viaProxy = dockerEngine({ socketPath: listenPath });

t.test("the docker driver works through the proxy", async (t) => {
  const driver = dockerDriver({
    clusterId,
    image: images.taskmanager,
    network,
    engine: viaProxy,
    env: { FLOTILLA_NATS_URL: "nats://nats:4222", FLOTILLA_CLUSTER_ID: clusterId },
    files: [{ path: "/run/secrets/x.nk", content: new TextEncoder().encode("seed") }],
  });
  t.teardown(() => driver.stop());
  await driver.ready();
  await driver.startTaskManager(profile(0.5, 128));
  const [tm] = driver.running();
  const seen = await viaProxy.call<{ State: { Running: boolean } }>(
    "GET",
    `/containers/${tm!.containerId}/json`,
  );
  t.equal(seen.body.State.Running, true, "created, filled and started through the proxy");
  t.equal(await driver.stopTaskManager(tm!.tmId), true);
  const gone = await direct.call("GET", `/containers/${tm!.containerId}/json`, { accept: [404] });
  t.equal(gone.status, 404, "stopped and removed through the proxy");
});

t.test("other containers are invisible and untouchable through it", async (t) => {
  const listed = await viaProxy.call<{ Names: string[] }[]>("GET", "/containers/json", {
    query: { all: true },
  });
  t.notOk(
    listed.body.some((c) => c.Names.includes(`/${outsider}`)),
    "a list without filters shows only the cluster's",
  );
  for (const [method, path] of [
    ["GET", `/containers/${outsider}/json`],
    ["POST", `/containers/${outsider}/start`],
    ["DELETE", `/containers/${outsider}`],
  ] as const) {
    const err = await viaProxy.call(method, path).catch((e: unknown) => e);
    t.ok(err instanceof DockerEngineError, `${method} ${path} refused`);
    t.match((err as DockerEngineError).engineMessage, /no TaskManager container .* of cluster/);
    t.equal((err as DockerEngineError).code, ErrorCode.NOT_FOUND);
  }
  t.equal(
    (await direct.call<{ State: { Status: string } }>("GET", `/containers/${outsider}/json`)).body
      .State.Status,
    "created",
    "the outsider was not started",
  );
});

t.test("a create that loosens the confinement is a 403 in the Engine's words", async (t) => {
  const body = {
    Image: images.taskmanager,
    Labels: { [DOCKER_LABELS.cluster]: clusterId, [DOCKER_LABELS.role]: "taskmanager" },
    HostConfig: { Privileged: true, Binds: ["/:/host"] },
  };
  const err = await viaProxy
    .call("POST", "/containers/create", { query: { name: `flotilla-${clusterId}-evil` }, body })
    .catch((e: unknown) => e);
  t.ok(err instanceof DockerEngineError);
  t.equal((err as DockerEngineError).engineStatus, 403);
  t.match((err as Error).message, /flotilla docker proxy: HostConfig\.Binds is not allowed/);
  const exec = await viaProxy.call("POST", "/containers/x/exec").catch((e: unknown) => e);
  t.match(
    (exec as Error).message,
    /403 flotilla docker proxy: POST \/containers\/x\/exec is not allowed/,
  );
  const ours = await direct.call<unknown[]>("GET", "/containers/json", {
    query: {
      all: true,
      filters: JSON.stringify({ label: [`${DOCKER_LABELS.cluster}=${clusterId}`] }),
    },
  });
  t.same(ours.body, [], "nothing was created");
});
