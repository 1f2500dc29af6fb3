/**
 * Every compose file is valid for the Compose this machine has (v1 `docker-compose config`, and v2
 * `docker compose config` where it exists; an overlay on top of the file it extends), every
 * variable a compose file reads is documented in the README's "Compose layouts" table, and the
 * HA overlay's NATS config is one the local nats-server accepts.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import { ensureClusterSecrets, NATS_AUTH_CONF } from "../../../components/security/mod.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const files = readdirSync(`${ROOT}compose`).filter((f) => f.endsWith(".yml"));
const env = { ...process.env, FLOTILLA_JOB_ARTIFACT: "/tmp/job.mjs" };
const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
/** Overlays are only valid on top of the files they extend, in this order. */
const overlays: Record<string, string[]> = {
  "ha.yml": ["standalone.yml"],
  "standalone-tls.yml": ["standalone.yml"],
  "session-tls.yml": ["session.yml"],
  "elastic-tls.yml": ["elastic.yml"],
  "job-tls.yml": ["job.yml"],
  "ha-tls.yml": ["standalone.yml", "ha.yml", "standalone-tls.yml"],
  "monitoring.yml": ["session.yml"],
};
const composeArgs = (file: string) =>
  [...(overlays[file] ?? []), file].flatMap((f) => ["-f", `compose/${f}`]);

t.test("the layouts are all there", async (t) => {
  t.same(files.sort(), [
    "elastic-tls.yml",
    "elastic.yml",
    "ha-tls.yml",
    "ha.yml",
    "job-tls.yml",
    "job.yml",
    "monitoring.yml",
    "session-tls.yml",
    "session.yml",
    "standalone-tls.yml",
    "standalone.yml",
  ]);
});

const composes: [string, string[]][] = [];
if (has("docker-compose", ["version"])) composes.push(["docker-compose", []]);
if (has("docker", ["compose", "version"])) composes.push(["docker", ["compose"]]);

t.test("a Compose is installed (v1 or v2)", async (t) => {
  t.ok(composes.length > 0, "docker compose or docker-compose: run scripts/docker-env.sh");
});

for (const [cmd, pre] of composes) {
  for (const file of files) {
    t.test(`${[cmd, ...pre].join(" ")} config accepts compose/${file}`, async (t) => {
      const r = spawnSync(cmd, [...pre, ...composeArgs(file), "config", "-q"], {
        cwd: ROOT,
        env,
        encoding: "utf8",
      });
      t.equal(r.status, 0, r.stderr);
    });
  }
}

t.test("every variable the compose files read is documented in the README", async (t) => {
  const readme = readFileSync(`${ROOT}README.md`, "utf8");
  const section = readme.slice(readme.indexOf("## Compose layouts"));
  t.ok(section.length > 0, "README has a Compose layouts section");
  for (const file of files) {
    const text = readFileSync(`${ROOT}compose/${file}`, "utf8").replace(/^\s*#.*$/gm, "");
    const used = new Set([...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]!));
    t.ok(used.size > 0, `${file} reads variables`);
    for (const name of used) t.match(section, `\`${name}\``, `${file}: ${name} is documented`);
  }
});

t.test("the HA overlay's NATS config for this nats-server's version is valid", async (t) => {
  const version = spawnSync("nats-server", ["--version"], { encoding: "utf8" }).stdout;
  const [major, minor] = (version.match(/v(\d+)\.(\d+)/) ?? []).slice(1).map(Number);
  t.ok(major !== undefined, `nats-server --version: ${version}`);
  // 2.9 refuses sync_interval (compose/ha.yml says so and names the 2.9 file).
  const file = major! > 2 || minor! >= 10 ? "nats-ha.conf" : "nats-ha-2.9.conf";
  // As in the container: the file at /etc/nats/flotilla.conf includes the users at
  // /run/secrets/nats-auth.conf, which flotilla cluster secrets makes.
  const root = mkdtempSync(join(tmpdir(), "flotilla-nats-conf-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, "etc/nats"), { recursive: true });
  copyFileSync(`${ROOT}compose/${file}`, join(root, "etc/nats/flotilla.conf"));
  const secrets = ensureClusterSecrets(join(root, "credentials"), { clusterId: "default" });
  mkdirSync(join(root, "run/secrets"), { recursive: true });
  copyFileSync(secrets.files[NATS_AUTH_CONF]!, join(root, "run/secrets", NATS_AUTH_CONF));
  const r = spawnSync("nats-server", ["-c", join(root, "etc/nats/flotilla.conf"), "-t"], {
    encoding: "utf8",
  });
  t.equal(r.status, 0, `${file}: ${r.stderr}`);
});

t.test("a missing job artifact is a clear compose error, not a broken stack", async (t) => {
  const [cmd, pre] = composes[0] ?? ["docker-compose", []];
  const { FLOTILLA_JOB_ARTIFACT: _, ...without } = env;
  const r = spawnSync(cmd, [...pre, "-f", "compose/job.yml", "config", "-q"], {
    cwd: ROOT,
    env: without,
    encoding: "utf8",
  });
  t.not(r.status, 0);
  t.match(r.stderr, /FLOTILLA_JOB_ARTIFACT/);
});
