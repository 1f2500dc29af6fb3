/**
 * Every compose file is valid for the Compose this machine has (v1 `docker-compose config`, and v2
 * `docker compose config` where it exists), and every variable a compose file reads is documented
 * in the README's "Compose layouts" table.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import t from "tap";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const files = readdirSync(`${ROOT}compose`).filter((f) => f.endsWith(".yml"));
const env = { ...process.env, FLOTILLA_JOB_ARTIFACT: "/tmp/job.mjs" };
const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0;

t.test("the layouts are all there", async (t) => {
  t.same(files.sort(), ["job.yml", "session.yml", "standalone.yml"]);
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
      const r = spawnSync(cmd, [...pre, "-f", `compose/${file}`, "config", "-q"], {
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
