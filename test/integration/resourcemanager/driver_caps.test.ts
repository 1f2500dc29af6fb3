/**
 * The drivers' caps on TaskManagers (process.max-taskmanagers, docker.max-taskmanagers, both 16
 * by default) and the docker driver's confinement settings, as a role process's config sets them:
 * a job asking for ever more slots gets no TaskManager past the cap, whatever the RM asks.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import t from "tap";
import { driverFor } from "../../../components/cluster/drivers.ts";
import { compileConfig, ErrorCode, silentLogger } from "../../../components/core/mod.ts";
import {
  DOCKER_LABELS,
  dockerEngine,
  processDriver,
  profile,
} from "../../../components/resourcemanager/mod.ts";
import { ensureDocker } from "../../support/docker.ts";

t.test("both caps are 16 unless set", async (t) => {
  const config = compileConfig({ env: {} });
  t.equal(config["process.max-taskmanagers"], 16);
  t.equal(config["docker.max-taskmanagers"], 16);
  t.equal(config["docker.taskmanager-pids-limit"], 256);
  t.equal(config["docker.taskmanager-memory-mb"], 1024);
});

t.test("the process driver starts 16 TaskManagers at most by default", async (t) => {
  // `sleep` stands in for a TaskManager: the cap counts processes, whatever they run.
  const driver = processDriver({ command: ["sleep", "600"], output: "ignore", stopGraceMs: 1000 });
  t.teardown(() => driver.stop());
  for (let i = 0; i < 16; i++) await driver.startTaskManager(profile(1, 64));
  t.equal(driver.running().length, 16);
  t.notOk(driver.canStart(profile(1, 64)), "the RM is told no more fit");
  await t.rejects(
    driver.startTaskManager(profile(1, 64)),
    { code: ErrorCode.NO_RESOURCES, message: /runs 16 TaskManagers.*process\.max-taskmanagers 16/ },
    "asked anyway, it refuses with the key to change",
  );
  await driver.stopTaskManager(driver.running()[0]!.tmId);
  t.ok(driver.canStart(profile(1, 64)), "one stopped: one more fits");
  await driver.stop();
  t.same(driver.running(), []);
});

t.test("process.max-taskmanagers 0 lifts the cap", async (t) => {
  const config = compileConfig({ env: { FLOTILLA_PROCESS_MAX_TASKMANAGERS: "0" } });
  t.equal(config["process.max-taskmanagers"], 0);
  const driver = driverFor({ ...config, "resourcemanager.driver": "process" }, silentLogger);
  t.ok(driver.canStart(profile(1, 64)));
});

t.test("docker.max-taskmanagers and the container settings reach the docker driver", async (t) => {
  const { images } = await ensureDocker();
  const engine = dockerEngine();
  const clusterId = `dc${randomBytes(4).toString("hex")}`;
  const network = `flotilla-test-${clusterId}`;
  await engine.call("POST", "/networks/create", { body: { Name: network } });
  let removed = false;
  const removeAll = () => {
    if (removed) return;
    removed = true;
    const ids = execFileSync(
      "docker",
      ["ps", "-aq", "--filter", `label=${DOCKER_LABELS.cluster}=${clusterId}`],
      { encoding: "utf8" },
    ).trim();
    if (ids) execFileSync("docker", ["rm", "-f", "-v", ...ids.split("\n")]);
    execFileSync("docker", ["network", "rm", network]);
  };
  process.once("exit", () => {
    try {
      removeAll();
    } catch {
      // best effort: the teardown below normally did it
    }
  });
  const config = compileConfig({
    env: {
      FLOTILLA_CLUSTER_ID: clusterId,
      FLOTILLA_RESOURCEMANAGER_DRIVER: "docker",
      FLOTILLA_DOCKER_NETWORK: network,
      FLOTILLA_DOCKER_TASKMANAGER_IMAGE: images.taskmanager,
      FLOTILLA_DOCKER_MAX_TASKMANAGERS: "1",
      FLOTILLA_DOCKER_TASKMANAGER_PIDS_LIMIT: "100",
      FLOTILLA_DOCKER_TASKMANAGER_MEMORY_MB: "200",
      FLOTILLA_DOCKER_TASKMANAGER_TMPFS_MB: "32",
    },
  });
  const driver = driverFor(config, silentLogger);
  t.teardown(async () => {
    await driver.stop?.();
    removeAll();
  });
  t.ok(driver.canStart(profile(0.5, 0)));
  await driver.startTaskManager(profile(0.5, 0));
  t.notOk(driver.canStart(profile(0.5, 0)), "one container is the most");
  await t.rejects(driver.startTaskManager(profile(0.5, 0)), {
    code: ErrorCode.NO_RESOURCES,
    message: /docker\.max-taskmanagers 1/,
  });

  const filters = JSON.stringify({ label: [`${DOCKER_LABELS.cluster}=${clusterId}`] });
  const listed = await engine.call<{ Id: string }[]>("GET", "/containers/json", {
    query: { all: true, filters },
  });
  t.equal(listed.body.length, 1, "one container was created, not two");
  const { body } = await engine.call<{
    HostConfig: { PidsLimit: number; Memory: number; Tmpfs: Record<string, string> };
  }>("GET", `/containers/${listed.body[0]!.Id}/json`);
  t.equal(body.HostConfig.PidsLimit, 100, "docker.taskmanager-pids-limit");
  t.equal(body.HostConfig.Memory, 200 * 1024 * 1024, "a profile without memory gets 200 MB");
  t.match(body.HostConfig.Tmpfs, { "/tmp": /size=32m/ }, "docker.taskmanager-tmpfs-mb");
});
