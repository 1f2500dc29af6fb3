/**
 * The docker driver hands each TaskManager container its files (its NATS nkey seed) through the
 * Engine's archive endpoint, before the container starts: the real TaskManager image then
 * authenticates with it to a NATS that refuses anonymous clients, the file is there as the
 * `node` user's, mode 0400, and `docker inspect` shows the path but never the seed. A copy the
 * Engine refuses fails the start with the reason and leaves no container behind.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect, nkeyAuthenticator, nkeys } from "@nats-io/transport-node";
import t, { type Test } from "tap";
import { ErrorCode, FlotillaError } from "../../../components/core/mod.ts";
import { tarArchive } from "../../../components/resourcemanager/drivers/tar.ts";
import {
  type ContainerExit,
  createResourceManager,
  DOCKER_LABELS,
  dockerDriver,
  dockerEngine,
  profile,
  type TaskManagerContainer,
} from "../../../components/resourcemanager/mod.ts";
import { type ContainerInspect, docker, ensureDocker } from "../../support/docker.ts";
import { electedRmToken } from "../../support/election.ts";
import { Recorder } from "../../support/fake_tm.ts";
import { until } from "../../support/poll.ts";

// Fails (never skips) when Docker cannot be had: docker-env.sh installs and starts it if it can.
const { images, natsImage } = await ensureDocker();
const engine = dockerEngine();
const SEED_PATH = "/run/secrets/nats-taskmanager.nk";

async function inspect(id: string): Promise<ContainerInspect> {
  return (await engine.call<ContainerInspect>("GET", `/containers/${id}/json`)).body;
}

/** What the confinement checks read of a container's inspect output. */
interface ConfinedInspect {
  HostConfig: {
    CapDrop: string[] | null;
    SecurityOpt: string[] | null;
    ReadonlyRootfs: boolean;
    Privileged: boolean;
    PidsLimit: number | null;
    Memory: number;
  };
  Mounts: { Type: string; Name: string; Destination: string }[];
}

async function containersOf(clusterId: string): Promise<{ Id: string }[]> {
  const filters = JSON.stringify({ label: [`${DOCKER_LABELS.cluster}=${clusterId}`] });
  const query = { all: true, filters };
  return (await engine.call<{ Id: string }[]>("GET", "/containers/json", { query })).body;
}

/** What this process made, removed synchronously should it exit before the teardowns ran. */
const made = { clusters: new Set<string>(), networks: new Set<string>() };
process.on("exit", () => {
  const run = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8" });
  try {
    for (const cluster of made.clusters) {
      const ids = run("ps", "-aq", "--filter", `label=${DOCKER_LABELS.cluster}=${cluster}`);
      if (ids.trim()) run("rm", "-f", ...ids.trim().split("\n"));
    }
    if (made.networks.size > 0) run("network", "rm", ...made.networks);
  } catch {
    // best effort: the process is going anyway
  }
});

/** A cluster id and a network of their own; every container of the cluster gone at teardown. */
async function setup(t: Test) {
  const clusterId = `df${randomBytes(4).toString("hex")}`;
  const network = `flotilla-test-${clusterId}`;
  made.clusters.add(clusterId);
  made.networks.add(network);
  t.teardown(async () => {
    for (const c of await containersOf(clusterId)) {
      await engine.call("DELETE", `/containers/${c.Id}`, { query: { force: true }, accept: [404] });
    }
    await engine.call("DELETE", `/networks/${network}`, { accept: [404] });
    made.networks.delete(network);
    made.clusters.delete(clusterId);
  });
  await engine.call("POST", "/networks/create", { body: { Name: network } });
  return { clusterId, network };
}

/** NATS on `network` (alias `nats`) that admits only these nkeys; its port on 127.0.0.1. */
async function natsAdmitting(clusterId: string, network: string, publicKeys: string[]) {
  const users = publicKeys.map((key) => `{ nkey: ${JSON.stringify(key)} }`).join(", ");
  const conf = new TextEncoder().encode(`authorization { users: [ ${users} ] }\n`);
  const { Id } = (
    await engine.call<{ Id: string }>("POST", "/containers/create", {
      body: {
        Image: natsImage,
        Cmd: ["-c", "/nats.conf", "-js"],
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
  // Public keys only: nothing secret in this file.
  await engine.putArchive(Id, "/", tarArchive([{ path: "nats.conf", mode: 0o444, content: conf }]));
  await engine.call("POST", `/containers/${Id}/start`);
  const port = (await inspect(Id)).NetworkSettings.Ports["4222/tcp"]?.[0]?.HostPort;
  if (!port) throw new Error("the NATS container published no port for 4222/tcp");
  return `nats://127.0.0.1:${port}`;
}

interface FileSeen {
  uid: number;
  gid: number;
  mode: number;
  content: string;
  dir: { uid: number; mode: number };
  readerUid: number;
}

/** The file as the container's own user sees it (the image has no shell: node is the tool). */
async function fileInContainer(containerId: string, path: string): Promise<FileSeen> {
  const script = `const fs = require("node:fs"); const p = ${JSON.stringify(path)};
    const f = fs.statSync(p), d = fs.statSync(require("node:path").dirname(p));
    process.stdout.write(JSON.stringify({ uid: f.uid, gid: f.gid, mode: f.mode & 0o7777,
      content: fs.readFileSync(p, "utf8"), dir: { uid: d.uid, mode: d.mode & 0o7777 },
      readerUid: process.getuid() }));`;
  const out = await docker(["exec", containerId, "node", "-e", script]);
  if (out.code !== 0) throw new Error(`docker exec in ${containerId} failed: ${out.stderr.trim()}`);
  return JSON.parse(out.stdout) as FileSeen;
}

t.test(
  "a TaskManager container gets its nkey seed as a 0400 file, authenticates with it, and inspect never shows it",
  async (t) => {
    const { clusterId, network } = await setup(t);
    const tmUser = nkeys.createUser();
    const rmUser = nkeys.createUser();
    const seed = new TextDecoder().decode(tmUser.getSeed());
    const url = await natsAdmitting(clusterId, network, [
      tmUser.getPublicKey(),
      rmUser.getPublicKey(),
    ]);
    const nc = await connect({
      servers: url,
      authenticator: nkeyAuthenticator(rmUser.getSeed()),
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    t.teardown(() => nc.close());
    // The server answers now (nc waited for it): an anonymous client is refused, not unanswered.
    const anonymous = await connect({ servers: url }).catch((err: Error) => err);
    if (!(anonymous instanceof Error)) await anonymous.close();
    t.ok(anonymous instanceof Error, "this NATS refuses clients without an nkey");
    t.match((anonymous as Error).message, /authorization/i);

    const exits = new Recorder<{ tm: TaskManagerContainer; exit: ContainerExit }>();
    const driver = dockerDriver({
      clusterId,
      image: images.taskmanager,
      network,
      env: {
        FLOTILLA_NATS_URL: "nats://nats:4222",
        FLOTILLA_CLUSTER_ID: clusterId,
        FLOTILLA_NATS_NKEY_FILE: SEED_PATH,
      },
      files: [{ path: SEED_PATH, content: tmUser.getSeed(), mode: 0o400 }],
      onExit: (tm, exit) => exits.push({ tm, exit }),
    });
    t.teardown(() => driver.stop());
    const token = await electedRmToken(t, nc, clusterId);
    const rm = createResourceManager({
      nc,
      clusterId,
      token,
      driver,
      // Idle for longer than this test: the TaskManager stays while its file is looked at.
      config: { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 5000, idleTimeoutMs: 120_000 },
    });
    await rm.start();
    t.teardown(() => rm.stop());

    await driver.startTaskManager(profile(0.5, 300));
    const [started] = driver.running();
    await until(
      () => rm.slotManager.taskManagers().length === 1 || exits.items.length > 0,
      "the TaskManager to register (or exit)",
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    t.same(
      exits.items.map((e) => e.exit),
      [],
      "the TaskManager did not exit (its output says why if it did)",
    );
    t.equal(
      rm.slotManager.taskManagers()[0]?.tmId,
      started!.tmId,
      "it registered: it authenticated with the seed it was handed",
    );

    const seen = await fileInContainer(started!.containerId, SEED_PATH);
    t.equal(seen.content, seed, "the seed, byte for byte");
    t.equal(seen.mode, 0o400, "mode 0400");
    t.same([seen.uid, seen.gid], [1000, 1000], "owned by the images' node user");
    t.equal(seen.readerUid, 1000, "who reads it is the TaskManager's user");
    t.same(seen.dir, { uid: 0, mode: 0o755 }, "/run/secrets is root's: nothing added beside it");

    const confined = (
      await engine.call<ConfinedInspect>("GET", `/containers/${started!.containerId}/json`)
    ).body;
    t.match(
      confined.HostConfig,
      {
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges:true"],
        ReadonlyRootfs: true,
        Privileged: false,
        PidsLimit: 256,
        Memory: 300 * 1024 * 1024,
      },
      "confined: no capabilities, no privilege gain, read-only root, bounded pids and memory",
    );
    const fileVolumes = confined.Mounts.filter((m) => m.Type === "volume");
    t.same(
      fileVolumes.map((m) => m.Destination),
      ["/run/secrets"],
      "the one writable place besides /tmp is the files' volume; nothing of the host is mounted",
    );
    t.same(
      confined.Mounts.filter((m) => m.Type === "bind"),
      [],
      "no bind mounts",
    );

    const inspected = await docker(["inspect", started!.containerId]);
    t.equal(inspected.code, 0);
    t.notOk(inspected.stdout.includes(seed), "docker inspect does not show the seed");
    t.notOk(
      inspected.stdout.includes(seed.slice(2, 20)),
      "nor a piece of it (in case of escaping)",
    );
    t.ok(
      (await inspect(started!.containerId)).Config.Env.includes(
        `FLOTILLA_NATS_NKEY_FILE=${SEED_PATH}`,
      ),
      "only the path is in its environment",
    );

    await driver.stop();
    const left = await docker(["volume", "inspect", fileVolumes[0]!.Name]);
    t.not(left.code, 0, "the files' volume went with the container");
  },
);

t.test(
  "files the Engine cannot place fail the start with the reason and leave no container",
  async (t) => {
    const { clusterId, network } = await setup(t);
    t.throws(
      () =>
        dockerDriver({ clusterId, files: [{ path: "run/secrets/x", content: new Uint8Array(1) }] }),
      { code: ErrorCode.INVALID_ARGUMENT, message: /must be absolute/ },
      "a bad path fails when the driver is made, not at each start",
    );

    // The image has a file at /app/flotilla.mjs: the Engine will not mount the files' volume there.
    const driver = dockerDriver({
      clusterId,
      image: images.taskmanager,
      network,
      files: [{ path: "/app/flotilla.mjs/secret", content: new TextEncoder().encode("s") }],
    });
    t.teardown(() => driver.stop());
    const err = await driver.startTaskManager(profile(0.5, 64)).catch((e: unknown) => e);
    t.ok(err instanceof FlotillaError, "a typed error");
    t.match(
      (err as Error).message,
      /^cannot create a TaskManager container \(flotilla\/taskmanager:[^)]+\): .*\/app\/flotilla\.mjs is not (a )?directory/,
    );
    t.same(driver.running(), [], "the driver does not count it");
    t.same(await containersOf(clusterId), [], "the created container was removed");
  },
);
