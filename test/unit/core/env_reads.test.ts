/**
 * Configuration is read in one place: no module under components/ or bin/ reads the environment
 * but compileConfig, and the few that pass it on whole to a child (which compiles its own) or
 * choose which code to load say so here.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Where an environment access is allowed, and why. */
const ALLOWED: Record<string, string> = {
  "components/core/config.ts": "compileConfig's default environment",
  "components/resourcemanager/drivers/process.ts":
    "inheritEnv: a child starts from its parent's env",
  "components/cli/compose.ts": "docker compose interpolates the caller's environment",
  "bin/flotilla.js": "FLOTILLA_FROM_SOURCE picks the bundle or the sources before config exists",
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return /\.(ts|js|mjs)$/.test(name) ? [path] : [];
  });
}

t.test("no module reads the environment outside compileConfig", (t) => {
  const readers = [...files(join(ROOT, "components")), ...files(join(ROOT, "bin"))]
    .filter((path) => /process\.env|Deno\.env/.test(readFileSync(path, "utf8")))
    .map((path) => relative(ROOT, path));
  t.same(
    readers.filter((path) => !(path in ALLOWED)),
    [],
    "make it a key in configKeys (components/core/config_keys.ts) and read the compiled Config",
  );
  t.end();
});
