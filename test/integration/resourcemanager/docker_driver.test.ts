/**
 * The docker driver against the real Docker daemon: containers get the profile's limits, the
 * labels, the network and the environment; stop removes them; a new driver adopts running
 * leftovers of its cluster and removes the rest; Engine errors come back typed and the driver
 * stays usable. Those use a tiny stand-in image (sh and sleep from the host) built here once; the
 * last test runs the real TaskManager image (npm run images) against a real RM and NATS.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { connect } from "@nats-io/transport-node";
import t from "tap";
import { ErrorCode, FlotillaError, type TaskManagerId } from "../../../components/core/mod.ts";
import {
  ANY_PROFILE,
  type ContainerExit,
  createResourceManager,
  DOCKER_LABELS,
  type DockerDriverOptions,
  type DockerEngine,
  dockerDriver,
  dockerEngine,
  profile,
  type TaskManagerContainer,
} from "../../../components/resourcemanager/mod.ts";
import { type ContainerInspect, ensureDocker } from "../../support/docker.ts";
import { electedRmToken } from "../../support/election.ts";
import { Recorder } from "../../support/fake_tm.ts";
import { until } from "../../support/poll.ts";

interface Teardown {
  teardown(fn: () => unknown): void;
}

const IMAGE = "flotilla-test/sleeper:1";
const SLEEP = 'trap "exit 0" TERM; sleep 86400 & wait';

/** A few-MB image of the host's sh and sleep that sleeps until SIGTERM. */
function ensureTestImage(): void {
  try {
    execFileSync("docker", ["image", "inspect", IMAGE], { stdio: "ignore" });
    return;
  } catch {
    // not there yet: build it
  }
  const root = mkdtempSync(join(tmpdir(), "flotilla-sleeper-"));
  try {
    const binaries = { "/bin/sh": "/bin/sh", "/bin/sleep": "/bin/sleep" };
    const libs = execFileSync("ldd", Object.values(binaries), { encoding: "utf8" })
      .split("\n")
      .map((line) => /(\/\S+\.so\S*)/.exec(line)?.[1])
      .filter((lib): lib is string => lib !== undefined);
    for (const [to, from] of [...Object.entries(binaries), ...libs.map((l) => [l, l])]) {
      mkdirSync(join(root, dirname(to!)), { recursive: true });
      cpSync(from!, join(root, to!), { dereference: true });
    }
    const tar = execFileSync("tar", ["-C", root, "-c", "."], { maxBuffer: 256 << 20 });
    const cmd = JSON.stringify(["/bin/sh", "-c", SLEEP]);
    execFileSync("docker", ["import", "-c", `CMD ${cmd}`, "-", IMAGE], { input: tar });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// Fails (never skips) when Docker cannot be had: docker-env.sh installs and starts it if it can.
const { images, natsImage } = await ensureDocker();
ensureTestImage();
const engine = dockerEngine();

async function inspect(id: string): Promise<ContainerInspect> {
  return (await engine.call<ContainerInspect>("GET", `/containers/${id}/json`)).body;
}

/** Each entry of the Engine's container list (`ContainerSummary`): what these tests read. */
interface ContainerSummary {
  Id: string;
  State: string;
}

async function containersOf(clusterId: string): Promise<ContainerSummary[]> {
  const filters = JSON.stringify({ label: [`${DOCKER_LABELS.cluster}=${clusterId}`] });
  const query = { all: true, filters };
  return (await engine.call<ContainerSummary[]>("GET", "/containers/json", { query })).body;
}

/** Removes every container labelled for these clusters (whoever made it). */
async function removeClusters(clusterIds: string[]): Promise<void> {
  for (const clusterId of clusterIds) {
    for (const c of await containersOf(clusterId)) {
      await engine.call("DELETE", `/containers/${c.Id}`, {
        query: { force: true },
        accept: [404],
      });
    }
  }
}

/** What this process made, removed synchronously should it exit before the teardowns ran. */
const made = { clusters: new Set<string>(), networks: new Set<string>() };
process.on("exit", () => {
  const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" });
  try {
    for (const cluster of made.clusters) {
      const ids = docker("ps", "-aq", "--filter", `label=${DOCKER_LABELS.cluster}=${cluster}`);
      if (ids.trim()) docker("rm", "-f", ...ids.trim().split("\n"));
    }
    if (made.networks.size > 0) docker("network", "rm", ...made.networks);
  } catch {
    // best effort: the process is going anyway
  }
});

/** A cluster id and a network of its own; both gone at teardown, whatever the test left. */
async function setup(t: Teardown) {
  const clusterId = `dd${randomBytes(4).toString("hex")}`;
  const network = `flotilla-test-${clusterId}`;
  const others: string[] = [];
  made.clusters.add(clusterId);
  made.networks.add(network);
  t.teardown(async () => {
    await removeClusters([clusterId, ...others]);
    await engine.call("DELETE", `/networks/${network}`, { accept: [404] });
    made.networks.delete(network);
    made.clusters.delete(clusterId);
    for (const other of others) made.clusters.delete(other);
  });
  await engine.call("POST", "/networks/create", { body: { Name: network } });
  const exits = new Recorder<{ tm: TaskManagerContainer; exit: ContainerExit }>();
  const driverFor = (options: Partial<DockerDriverOptions> = {}) => {
    const driver = dockerDriver({
      clusterId,
      image: IMAGE,
      network,
      env: { FLOTILLA_NATS_URL: "nats://nats:4222", FLOTILLA_CLUSTER_ID: clusterId },
      managedBy: "rm-test",
      onExit: (tm, exit) => exits.push({ tm, exit }),
      ...options,
    });
    t.teardown(() => driver.stop());
    return driver;
  };
  return { clusterId, network, exits, driverFor, others };
}

/** An engine that can be cut off, like the one of an RM that crashed. */
function crashable(): { engine: DockerEngine; crash(): void } {
  let crashed = false;
  const streams: { close(): void }[] = [];
  const dead = () => Promise.reject(new Error("this RM has crashed"));
  return {
    engine: {
      socketPath: engine.socketPath,
      call: (method, path, options) => (crashed ? dead() : engine.call(method, path, options)),
      raw: (path, query) => (crashed ? dead() : engine.raw(path, query)),
      putArchive: (id, path, tar) => (crashed ? dead() : engine.putArchive(id, path, tar)),
      events(query, onEvent) {
        const stream = engine.events(query, (e) => crashed || onEvent(e));
        streams.push(stream);
        return stream;
      },
    },
    crash() {
      crashed = true;
      for (const s of streams) s.close();
    },
  };
}

t.test(
  "a container per TaskManager with the profile's limits, labels, network and env",
  async (t) => {
    const { clusterId, network, driverFor } = await setup(t);
    const driver = driverFor();
    t.equal(driver.kind, "docker");
    await driver.startTaskManager(profile(0.5, 256, { gpu: 1 }));
    const [tm] = driver.running();
    t.ok(tm, "one container");
    const c = await inspect(tm!.containerId);
    t.equal(c.Name, `/flotilla-${clusterId}-${tm!.tmId}`);
    t.equal(c.State.Running, true);
    t.equal(c.Config.Image, IMAGE);
    t.equal(c.HostConfig.NanoCpus, 500_000_000, "0.5 cpu");
    t.equal(c.HostConfig.Memory, 256 * 1024 * 1024, "256 MB in bytes");
    t.equal(c.HostConfig.RestartPolicy.Name, "no");
    t.ok(c.NetworkSettings.Networks[network], `attached to ${network}`);
    t.match(c.Config.Labels, {
      [DOCKER_LABELS.cluster]: clusterId,
      [DOCKER_LABELS.role]: "taskmanager",
      [DOCKER_LABELS.tm]: tm!.tmId,
      [DOCKER_LABELS.managedBy]: "rm-test",
    });
    t.same(
      JSON.parse(c.Config.Labels[DOCKER_LABELS.profile] ?? "null"),
      profile(0.5, 256, { gpu: 1 }),
    );
    t.same(
      c.Config.Env.filter((e) => e.startsWith("FLOTILLA_")).sort(),
      [
        `FLOTILLA_CLUSTER_ID=${clusterId}`,
        "FLOTILLA_NATS_URL=nats://nats:4222",
        "FLOTILLA_TASKMANAGER_CPU=0.5",
        "FLOTILLA_TASKMANAGER_EXTENDED_RESOURCES=gpu=1",
        `FLOTILLA_TASKMANAGER_ID=${tm!.tmId}`,
        "FLOTILLA_TASKMANAGER_MEMORY_MB=256",
        "FLOTILLA_TASKMANAGER_SLOTS=1",
      ],
      "the process driver's variables plus the cluster's",
    );

    await driver.startTaskManager(ANY_PROFILE);
    await driver.startTaskManager(profile(0, 512));
    const [, any, noCpu] = driver.running();
    const anyConfig = (await inspect(any!.containerId)).HostConfig;
    t.same([anyConfig.NanoCpus, anyConfig.Memory], [1e9, 1024 * 1024 * 1024], "ANY: 1 cpu, 1 GB");
    const noCpuConfig = (await inspect(noCpu!.containerId)).HostConfig;
    t.same([noCpuConfig.NanoCpus, noCpuConfig.Memory], [0, 512 * 1024 * 1024], "cpu 0: no limit");

    t.equal(await driver.stopTaskManager(tm!.tmId), true);
    await t.rejects(inspect(tm!.containerId), { code: ErrorCode.NOT_FOUND }, "stopped and removed");
    t.equal(await driver.stopTaskManager(tm!.tmId), false, "no longer the driver's");
    t.equal(await driver.stopTaskManager("tm-elsewhere" as TaskManagerId), false);
    t.equal((await containersOf(clusterId)).length, 2);

    await driver.stop();
    t.same(await containersOf(clusterId), [], "stop() removes every container it started");
    t.same(driver.running(), []);
    t.notOk(driver.canStart(ANY_PROFILE), "a stopped driver starts nothing");
    await t.rejects(driver.startTaskManager(ANY_PROFILE), { code: ErrorCode.UNAVAILABLE });
  },
);

t.test("a new driver adopts its cluster's running leftovers and removes the others", async (t) => {
  const { clusterId, driverFor, exits, others } = await setup(t);
  const crashed = crashable();
  const before = driverFor({ engine: crashed.engine });
  await before.startTaskManager(profile(1, 128));
  const [survivor] = before.running();
  crashed.crash();

  const labels = (tmId: string, cluster = clusterId) => ({
    [DOCKER_LABELS.cluster]: cluster,
    [DOCKER_LABELS.role]: "taskmanager",
    [DOCKER_LABELS.tm]: tmId,
  });
  const create = async (body: object, start: boolean) => {
    const { Id } = (
      await engine.call<{ Id: string }>("POST", "/containers/create", {
        body: { Image: IMAGE, ...body },
      })
    ).body;
    if (start) await engine.call("POST", `/containers/${Id}/start`);
    return Id;
  };
  // Died while nobody watched, created but never started, and another cluster's.
  const exited = await create(
    { Labels: labels("tm-exited"), Cmd: ["/bin/sh", "-c", "exit 0"] },
    true,
  );
  await engine.call("POST", `/containers/${exited}/wait`);
  const created = await create({ Labels: labels("tm-created") }, false);
  const otherCluster = `${clusterId}x`;
  others.push(otherCluster);
  made.clusters.add(otherCluster);
  const foreign = await create({ Labels: labels("tm-foreign", otherCluster) }, true);

  const after = driverFor({ maxTaskManagers: 1 });
  await after.ready();
  t.match(after.running(), [
    { tmId: survivor!.tmId, containerId: survivor!.containerId, adopted: true },
  ]);
  t.same(after.running()[0]!.profile, profile(1, 128), "the profile from its label");
  await t.rejects(inspect(exited), { code: ErrorCode.NOT_FOUND }, "the exited one is removed");
  await t.rejects(inspect(created), { code: ErrorCode.NOT_FOUND }, "the never-started one too");
  t.equal((await inspect(foreign)).State.Running, true, "another cluster's is left alone");
  t.notOk(after.canStart(ANY_PROFILE), "the adopted container counts against the limit");

  t.equal(await after.stopTaskManager(survivor!.tmId), true, "adopted: the new driver's to stop");
  await t.rejects(inspect(survivor!.containerId), { code: ErrorCode.NOT_FOUND });
  t.ok(after.canStart(ANY_PROFILE));
  t.same(exits.items, [], "stopping is not an exit");
});

t.test("a container that exits by itself is reported with its output and removed", async (t) => {
  const { driverFor, exits } = await setup(t);
  const driver = driverFor({
    command: ["/bin/sh", "-c", "echo cannot reach NATS >&2; exit 3"],
  });
  await driver.ready();
  await driver.startTaskManager(profile(1, 64));
  const [{ tm, exit }] = (await exits.waitFor((e) => e.length === 1, "the exit", 20_000)) as [
    { tm: TaskManagerContainer; exit: ContainerExit },
  ];
  t.equal(exit.exitCode, 3);
  t.equal(exit.oomKilled, false);
  t.equal(exit.output, "cannot reach NATS");
  t.same(driver.running(), []);
  await t.rejects(inspect(tm.containerId), { code: ErrorCode.NOT_FOUND }, "removed");
});

t.test("Engine errors are typed and say what to change; the driver stays usable", async (t) => {
  const { clusterId, driverFor } = await setup(t);

  const noImage = driverFor({ image: "flotilla-test/no-such-image:0" });
  const missing = await noImage.startTaskManager(profile(1, 64)).catch((e) => e);
  t.ok(missing instanceof FlotillaError);
  t.equal(missing.code, ErrorCode.NOT_FOUND);
  t.match(missing.message, /image flotilla-test\/no-such-image:0 .*No such image.*npm run images/);

  const noNetwork = driverFor({ network: "flotilla-test-no-such-network" });
  const lost = await noNetwork.startTaskManager(profile(1, 64)).catch((e) => e);
  t.equal(lost.code, ErrorCode.NOT_FOUND);
  t.match(lost.message, /network flotilla-test-no-such-network .*docker\.network/);

  const driver = driverFor();
  const tiny = await driver.startTaskManager(profile(1, 1)).catch((e) => e);
  t.ok(tiny instanceof FlotillaError, "a memory limit the engine refuses");
  t.match(tiny.message, /Minimum memory limit/i, "with the engine's own words");
  t.same(await containersOf(clusterId), [], "no failed container is left behind");

  await driver.startTaskManager(profile(1, 64));
  t.equal(driver.running().length, 1, "the same driver starts the next one");

  const nowhere = dockerDriver({ clusterId, socketPath: "/nonexistent/docker.sock" });
  t.teardown(() => nowhere.stop());
  await t.rejects(nowhere.ready(), {
    code: ErrorCode.UNAVAILABLE,
    message:
      /cannot reach the Docker Engine at \/nonexistent\/docker\.sock .*ENOENT.*docker\.socket/,
  });
  await t.rejects(nowhere.startTaskManager(ANY_PROFILE), { code: ErrorCode.UNAVAILABLE });
});

t.test("stop() during a start leaves no container behind", async (t) => {
  const { clusterId, driverFor } = await setup(t);
  const driver = driverFor();
  await driver.ready();
  const starts = [driver.startTaskManager(profile(1, 64)), driver.startTaskManager(ANY_PROFILE)];
  await driver.stop();
  const outcomes = await Promise.allSettled(starts);
  for (const o of outcomes) {
    if (o.status === "rejected") t.match(o.reason, { code: ErrorCode.UNAVAILABLE });
  }
  t.same(await containersOf(clusterId), [], "whatever got created was removed");
  t.same(driver.running(), []);
});

t.test(
  "the real TaskManager image registers at the RM with its profile; idle, it is removed",
  async (t) => {
    const { clusterId, network, driverFor, exits } = await setup(t);
    const { Id: natsId } = (
      await engine.call<{ Id: string }>("POST", "/containers/create", {
        body: {
          Image: natsImage,
          Cmd: ["-js"],
          Labels: { [DOCKER_LABELS.cluster]: clusterId, [DOCKER_LABELS.role]: "nats" },
          ExposedPorts: { "4222/tcp": {} },
          HostConfig: {
            NetworkMode: network,
            PortBindings: { "4222/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] },
          },
          NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: ["nats"] } } },
        },
      })
    ).body;
    await engine.call("POST", `/containers/${natsId}/start`);
    const port = (await inspect(natsId)).NetworkSettings.Ports["4222/tcp"]?.[0]?.HostPort;
    if (!port) throw new Error("the NATS container published no port for 4222/tcp");
    const nc = await connect({
      servers: `nats://127.0.0.1:${port}`,
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    t.teardown(() => nc.close());

    const token = await electedRmToken(t, nc, clusterId);
    const driver = driverFor({ image: images.taskmanager });
    const rm = createResourceManager({
      nc,
      clusterId,
      token,
      driver,
      config: { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 5000, idleTimeoutMs: 1500 },
    });
    await rm.start();
    t.teardown(() => rm.stop());

    await driver.startTaskManager(profile(0.5, 300));
    const [started] = driver.running();
    await until(() => rm.slotManager.taskManagers().length === 1, "the TaskManager to register", {
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    const [registered] = rm.slotManager.taskManagers();
    t.equal(registered!.tmId, started!.tmId, "it registered under the id the driver gave it");
    t.same(registered!.totalResources, profile(0.5, 300), "with the profile from its environment");

    // No job wants it: after the idle timeout the RM releases it and the driver removes it.
    // (The RM forgets it once the driver said it stopped and removed the container.)
    await until(
      () => rm.slotManager.taskManagers().length === 0,
      "the idle TaskManager's release",
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    t.same(driver.running(), []);
    await t.rejects(inspect(started!.containerId), { code: ErrorCode.NOT_FOUND }, "removed");
    t.same(exits.items, [], "it was stopped, it did not exit by itself");
  },
);
