/** The role images (a stage per role in images/Dockerfile): what they contain, who they run as, and that a TaskManager container comes up healthy against NATS. */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import t from "tap";
import {
  type DockerEnv,
  docker,
  ensureDocker,
  inspect,
  inspectImage,
  ROLES,
  type Role,
} from "../../support/docker.ts";

// The first ensureDocker() on a fresh machine installs Docker and builds the stand-in images.
t.setTimeout(15 * 60_000);

const { version } = JSON.parse(
  readFileSync(new URL("../../../package.json", import.meta.url), "utf8"),
);
const MB = 1024 * 1024;
let env: DockerEnv;

t.before(async () => {
  env = await ensureDocker();
});

t.test("every role image is labelled, runs as node and adds a few MB to the base", async (t) => {
  const base = await inspectImage(env.nodeImage);
  for (const role of ROLES) {
    const image = await inspectImage(env.images[role]);
    const labels = image.Config.Labels;
    t.equal(labels["org.opencontainers.image.title"], `flotilla-${role}`, `${role} title`);
    t.equal(labels["org.opencontainers.image.version"], version, `${role} version`);
    t.equal(labels["org.opencontainers.image.licenses"], "Apache-2.0", `${role} licenses`);
    t.match(labels["org.opencontainers.image.description"], /\S{10}/, `${role} description`);
    t.match(labels["org.opencontainers.image.source"], /\S/, `${role} source`);
    t.same(image.Config.Entrypoint, ["node", "/app/flotilla.mjs", "start", role]);
    t.equal(image.Config.User, "1000:1000", `${role} is not root`);
    t.equal(image.Config.Healthcheck?.Test?.[0], "CMD", `${role} has an exec-form HEALTHCHECK`);
    const added = (image.Size - base.Size) / MB;
    t.comment(`${role}: ${(image.Size / MB).toFixed(1)} MB, adds ${added.toFixed(2)} MB`);
    t.ok(added < 15, `${role} adds ${added.toFixed(2)} MB to ${env.nodeImage} (goal: < 10)`);
  }
});

t.test("the role images share every layer: one Dockerfile, a stage per role", async (t) => {
  const layersOf = async (role: Role): Promise<string[]> =>
    (await inspectImage(env.images[role])).RootFS.Layers;
  const [first, ...others] = ROLES;
  const expected = await layersOf(first);
  for (const role of others) t.same(await layersOf(role), expected, `${role}: ${first}'s layers`);
});

t.test("the bundled command runs on the bare base as uid 1000", async (t) => {
  const script =
    "const u = require('node:os').userInfo(); console.log(JSON.stringify([u.uid, u.gid, u.username]))";
  for (const role of ROLES) {
    const who = await docker([
      "run",
      "--rm",
      "--entrypoint",
      "node",
      env.images[role],
      "-e",
      script,
    ]);
    t.same(JSON.parse(who.stdout), [1000, 1000, "node"], `${role} user`);
    const ran = await docker([
      "run",
      "--rm",
      "--entrypoint",
      "node",
      env.images[role],
      "/app/flotilla.mjs",
      "version",
    ]);
    t.equal(ran.stdout.trim(), version, `${role}: flotilla version (stderr: ${ran.stderr.trim()})`);
  }
});

/** Resolves when the container reports healthy; rejects after timeoutMs. */
function healthy(container: string, timeoutMs: number): Promise<void> {
  // docker events is the health check's own notification: nothing to poll.
  const events = spawn(
    "docker",
    [
      "events",
      "--filter",
      `container=${container}`,
      "--filter",
      "event=health_status",
      "--format",
      "{{.Status}}",
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      events.kill();
      reject(new Error(`${container} not healthy within ${timeoutMs} ms`));
    }, timeoutMs);
    events.stdout.on("data", (data: Buffer) => {
      if (!data.toString().includes("health_status: healthy")) return;
      clearTimeout(timer);
      events.kill();
      resolve();
    });
  });
}

t.test("a TaskManager container becomes healthy with NATS on a user network", async (t) => {
  const id = randomUUID().slice(0, 8);
  const network = `flotilla-images-test-${id}`;
  const nats = `flotilla-images-nats-${id}`;
  const tm = `flotilla-images-tm-${id}`;
  t.teardown(async () => {
    await docker(["rm", "-f", tm, nats]);
    await docker(["network", "rm", network]);
  });
  t.equal((await docker(["network", "create", network])).code, 0, "network created");
  const natsRun = await docker([
    "run",
    "-d",
    "--name",
    nats,
    "--network",
    network,
    "--network-alias",
    "nats",
    env.natsImage,
    "-js",
  ]);
  t.equal(natsRun.code, 0, `nats started ${natsRun.stderr}`);

  // Listen before the container exists, so its first health_status event cannot be missed.
  const becameHealthy = healthy(tm, 25_000);
  // The image's own defaults: FLOTILLA_NATS_URL=nats://nats:4222, health on 8080.
  const tmRun = await docker([
    "run",
    "-d",
    "--name",
    tm,
    "--network",
    network,
    "-e",
    `FLOTILLA_CLUSTER_ID=images${id}`,
    env.images.taskmanager,
  ]);
  t.equal(tmRun.code, 0, `taskmanager started ${tmRun.stderr}`);
  try {
    await becameHealthy;
  } catch (error) {
    const logs = await docker(["logs", "--tail", "20", tm]);
    t.fail(`${(error as Error).message}; its last log lines:\n${logs.stdout}${logs.stderr}`);
    return;
  }
  const state = (await inspect(tm)).State;
  t.equal(state.Health?.Status, "healthy");
  t.equal(state.Running, true);
});
