/**
 * compose/session.yml confined: every container of the stack, and the TaskManager container its
 * ResourceManager starts for a job (through docker-proxy), runs without capabilities, without
 * privilege gain, on a read-only root, with pid and memory limits, as a non-root user (but
 * docker-proxy and NATS); only docker-proxy mounts the Docker socket, and it refuses the
 * ResourceManager what its docker driver never asks for.
 */
import t from "tap";
import { JobState } from "../../../components/core/mod.ts";
import { events, eventsOf, flotilla } from "../../support/cli.ts";
import { projectContainers, sessionStack } from "../../support/compose.ts";
import { docker, ensureDocker } from "../../support/docker.ts";
import { freePort } from "../../support/nats.ts";

t.setTimeout(600_000);

/** What this test reads of `docker inspect`. */
interface Confinement {
  Name: string;
  Config: { User: string; Labels: Record<string, string> };
  HostConfig: {
    CapDrop: string[] | null;
    CapAdd: string[] | null;
    SecurityOpt: string[] | null;
    ReadonlyRootfs: boolean;
    Privileged: boolean;
    PidsLimit: number | null;
    Memory: number;
    Binds: string[] | null;
  };
  Mounts: { Type: string; Source: string; Destination: string }[];
}

const d = await ensureDocker();
const port = await freePort();
const { project, clusterId, env, session } = sessionStack(t, "hardening", port, d.composeEnv);

async function inspectAll(ids: string[]): Promise<Confinement[]> {
  const out = await docker(["inspect", ...ids]);
  if (out.code !== 0) throw new Error(`docker inspect failed: ${out.stderr}`);
  return JSON.parse(out.stdout) as Confinement[];
}

const serviceOf = (c: Confinement) =>
  c.Config.Labels["com.docker.compose.service"] ?? c.Config.Labels["org.flotilla.role"] ?? c.Name;
const mountsSocket = (c: Confinement) =>
  c.Mounts.some((m) => m.Source.endsWith("docker.sock") || m.Destination.endsWith("docker.sock"));

t.test(
  "a job runs on a TaskManager container the ResourceManager started through the proxy",
  async (t) => {
    const up = await session("up", "--json");
    t.equal(up.code, 0, up.stderr);
    const run = await flotilla(
      [
        "run",
        "test/support/jobs/profiled.ts",
        "--cluster",
        `http://127.0.0.1:${port}`,
        "--json",
        "--arg",
        "memoryMb=256",
        "--arg",
        "cpu=0.5",
      ],
      env,
    );
    t.equal(run.code, 0, run.stderr);
    t.match(
      eventsOf(events(run.stdout), "ended")[0],
      { state: JobState.FINISHED },
      "the confined TaskManager ran it",
    );
  },
);

t.test("every container is confined; only docker-proxy mounts the Docker socket", async (t) => {
  const stack = await projectContainers(project, "status=running");
  const tms = (
    await docker(["ps", "-q", "--no-trunc", "--filter", `label=org.flotilla.cluster=${clusterId}`])
  ).stdout
    .split("\n")
    .filter(Boolean);
  t.equal(tms.length, 1, "the job's TaskManager container is still there (idle timeout 30 s)");
  const all = await inspectAll([...stack, ...tms]);
  t.same(
    [...new Set(all.map(serviceOf))].sort(),
    ["dispatcher", "docker-proxy", "nats", "resourcemanager", "taskmanager"],
    "the stack's services and the driver's TaskManager",
  );
  for (const c of all) {
    const name = `${serviceOf(c)} (${c.Name})`;
    const h = c.HostConfig;
    t.ok(h.CapDrop?.includes("ALL"), `${name}: every capability dropped`);
    t.same(h.CapAdd ?? [], [], `${name}: none added`);
    t.ok(h.SecurityOpt?.includes("no-new-privileges:true"), `${name}: no-new-privileges`);
    t.equal(h.ReadonlyRootfs, true, `${name}: read-only root`);
    t.equal(h.Privileged, false, `${name}: not privileged`);
    t.ok((h.PidsLimit ?? 0) > 0, `${name}: a pids limit (${h.PidsLimit})`);
    t.ok(h.Memory > 0, `${name}: a memory limit (${h.Memory})`);
    const rootAllowed = ["docker-proxy", "nats"].includes(serviceOf(c));
    if (!rootAllowed) {
      t.ok(
        /^[1-9]\d*(:\d+)?$/.test(c.Config.User),
        `${name}: runs as a non-root user (${c.Config.User})`,
      );
    }
    t.equal(
      mountsSocket(c),
      serviceOf(c) === "docker-proxy",
      `${name}: the Docker socket only in docker-proxy`,
    );
  }
  const tm = all.find((c) => serviceOf(c) === "taskmanager")!;
  t.same(
    tm.Mounts.filter((m) => m.Type === "bind"),
    [],
    "the driver's TaskManager mounts nothing of the host",
  );
});

t.test("docker-proxy refuses the ResourceManager what its driver never asks", async (t) => {
  const [rm] = await projectContainers(project, "label=com.docker.compose.service=resourcemanager");
  const ask = (method: string, path: string) =>
    docker([
      "exec",
      rm!,
      "node",
      "-e",
      `require("node:http").request({ socketPath: "/run/flotilla-docker/docker.sock", method: ${JSON.stringify(method)}, path: ${JSON.stringify(path)} }, (r) => { let b = ""; r.on("data", (c) => (b += c)); r.on("end", () => console.log(r.statusCode, b)); }).end();`,
    ]);
  const images = await ask("GET", "/v1.41/images/json");
  t.match(images.stdout, /^403 .*GET \/images\/json is not allowed/, images.stderr);
  const exec = await ask("POST", "/v1.41/containers/create?name=evil");
  t.match(exec.stdout, /^403 .*name must start with flotilla-/, exec.stderr);
  const noSocket = await docker([
    "exec",
    rm!,
    "node",
    "-e",
    "require('node:fs').statSync('/var/run/docker.sock')",
  ]);
  t.not(noSocket.code, 0, "the ResourceManager has no Docker socket of the host");
  const write = await docker([
    "exec",
    rm!,
    "node",
    "-e",
    "require('node:fs').writeFileSync('/app/x', 'x')",
  ]);
  t.match(write.stderr, /EROFS|read-only/, "its root is read-only");
});
