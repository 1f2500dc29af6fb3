/**
 * The README's quick start on a fresh copy of the repository: `npm ci` then `npm start` prints the
 * word counts, with nothing from this checkout (node_modules, .flotilla, dist) to lean on.
 */
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** What a fresh clone never has, even if an ignore rule were to go missing. */
const NOT_IN_A_CLONE = /^(node_modules|\.flotilla|dist|\.tap|coverage)(\/|$)/;

/** Tracked files plus untracked ones that are not ignored: the work as it would be committed. */
function repositoryFiles(): string[] {
  const list = (...args: string[]) =>
    execFileSync("git", ["ls-files", "-z", ...args], { cwd: ROOT, encoding: "utf8" })
      .split("\0")
      .filter(Boolean);
  const files = new Set([...list(), ...list("--others", "--exclude-standard")]);
  // A tracked file deleted in the working tree is not part of the work either.
  return [...files].filter((f) => !NOT_IN_A_CLONE.test(f) && existsSync(join(ROOT, f)));
}

function copyRepository(dir: string): void {
  for (const file of repositoryFiles()) {
    if (!lstatSync(join(ROOT, file)).isFile()) continue;
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(dir, file));
  }
}

/**
 * The environment of someone who just cloned: no cluster configured, and nothing inherited from
 * an outer `npm test` or from tap (its NODE_OPTIONS would load this checkout's modules).
 */
function newcomerEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) =>
        !/^(FLOTILLA_|TAP|NODE_OPTIONS$|INIT_CWD$)/.test(key) &&
        !(/^npm_/i.test(key) && !/^npm_config_(registry|cache|userconfig)$/i.test(key)),
    ),
  );
}

function npm(
  args: string[],
  cwd: string,
): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn("npm", args, {
      cwd,
      env: newcomerEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const collect = (c: Buffer) => {
      output += c.toString();
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    // A missing npm is a failure of this test, never a skip.
    child.once("error", (err) =>
      resolve({ code: -1, output: `cannot run npm: ${err.message}`, ms: Date.now() - started }),
    );
    child.once("close", (code) => resolve({ code, output, ms: Date.now() - started }));
  });
}

/** npm ci on a machine with a cold npm cache downloads every package: far beyond .taprc's 120 s. */
const TIMEOUT_MS = 600_000;
t.setTimeout(TIMEOUT_MS); // on the root test this also tells the tap runner, which enforces it

t.test("a newcomer on a fresh copy: npm ci, then npm start prints the word counts", async (t) => {
  t.setTimeout(TIMEOUT_MS);
  const dir = mkdtempSync(join(tmpdir(), "flotilla-newcomer-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyRepository(dir);
  t.notOk(existsSync(join(dir, "node_modules")), "the copy starts without node_modules");
  t.ok(existsSync(join(dir, "package-lock.json")), "the copy has the lockfile npm ci needs");

  const install = await npm(["ci", "--no-audit", "--no-fund", "--prefer-offline"], dir);
  t.equal(install.code, 0, `npm ci exits 0 (${(install.ms / 1000).toFixed(1)} s)`, {
    output: install.output.slice(-4000),
  });
  if (install.code !== 0) return;

  const start = await npm(["start"], dir);
  t.equal(start.code, 0, `npm start exits 0 (${(start.ms / 1000).toFixed(1)} s)`, {
    output: start.output.slice(-4000),
  });
  // examples/data/words.txt is the opening of Hamlet's soliloquy.
  t.match(start.output, /embedded MiniCluster/, "no cluster needed");
  t.match(start.output, /\{"word":"to","count":13\}/);
  t.match(start.output, /\{"word":"the","count":6\}/);
  t.match(start.output, /\{"word":"sleep","count":4\}/);
  t.match(start.output, /[0-9a-f]{32} FINISHED/);
});
