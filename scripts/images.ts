/**
 * `npm run images`: builds the role images from dist/image/flotilla.mjs, one stage of
 * images/Dockerfile per role (`--target <role>`), tags them flotilla/<role>:<package version> and
 * :latest, and prints each one's size and what it adds to the Node base. Rebuilds the bundle first
 * when it is missing or older than the sources.
 *
 *   npm run images                           # base: --node-image, env NODE_IMAGE, dist/docker.env,
 *                                            # else node:24-bookworm-slim
 *   npm run images -- --node-image flotilla-standin/node:24
 *   npm run -s images -- --json              # one JSON object on stdout, progress on stderr
 *
 * The build context is a temporary directory holding only dist/image/flotilla.mjs (not the
 * repository), and the legacy builder is used (DOCKER_BUILDKIT=0): no buildx on the CI machines.
 * Unchanged inputs rebuild from the builder's cache in about 0.2 s per role.
 * scripts/docker-env.sh provides Docker and the base images, and runs this at its end.
 */
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROLES = ["dispatcher", "resourcemanager", "jobmanager", "taskmanager"] as const;
const DEFAULT_NODE_IMAGE = "node:24-bookworm-slim";
const ROOT = fileURLToPath(new URL("../", import.meta.url));
const BUNDLE = join(ROOT, "dist/image/flotilla.mjs");
const DOCKERFILE = join(ROOT, "images/Dockerfile");
const MB = 1024 * 1024;

const { values: flags } = parseArgs({
  options: {
    "node-image": { type: "string" },
    json: { type: "boolean", default: false },
  },
});
// With --json, stdout carries the one JSON object only.
const say = (line: string) => (flags.json ? process.stderr : process.stdout).write(`${line}\n`);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function newestMtime(path: string): Promise<number> {
  const info = await stat(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = 0;
  for (const entry of await readdir(path)) {
    newest = Math.max(newest, await newestMtime(join(path, entry)));
  }
  return newest;
}

async function bundleIsStale(): Promise<boolean> {
  if (!existsSync(BUNDLE)) return true;
  const built = (await stat(BUNDLE)).mtimeMs;
  const inputs = ["components", "package.json", "package-lock.json", "scripts/build.ts"];
  const newest = Math.max(...(await Promise.all(inputs.map((p) => newestMtime(join(ROOT, p))))));
  return newest > built;
}

function readEnvFile(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const entries = readFileSync(path, "utf8")
    .split("\n")
    .map((line) => line.match(/^([A-Z_][A-Z0-9_]*)=(.*)$/))
    .filter((m) => m !== null)
    .map((m) => [m[1]!, m[2]!.trim()]);
  return Object.fromEntries(entries);
}

async function imageField(image: string, format: string): Promise<string | undefined> {
  const out = await run("docker", ["image", "inspect", "--format", format, image]);
  return out.code === 0 ? out.stdout.trim() : undefined;
}

function smokeArgs(image: string): string[] {
  return ["run", "--rm", "--entrypoint", "node", image, "/app/flotilla.mjs", "version"];
}

function sourceUrl(pkg: { repository?: string | { url?: string } }): string {
  const repo = typeof pkg.repository === "string" ? pkg.repository : pkg.repository?.url;
  if (repo) return repo;
  const git = spawnSync("git", ["remote", "get-url", "origin"], { cwd: ROOT, encoding: "utf8" });
  return git.status === 0 && git.stdout.trim() ? git.stdout.trim() : "unknown";
}

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const version: string = pkg.version;
const nodeImage =
  flags["node-image"] ??
  process.env.NODE_IMAGE ??
  readEnvFile(join(ROOT, "dist/docker.env")).NODE_IMAGE ??
  DEFAULT_NODE_IMAGE;

const engine = await run("docker", ["info", "--format", "{{.ServerVersion}}"]).catch(() => null);
if (engine?.code !== 0) {
  console.error(
    `images: no Docker engine answers (${engine ? engine.stderr.trim() : "docker is not on PATH"}). ` +
      "Run `bash scripts/docker-env.sh` (as root on a fresh machine): it installs and starts one.",
  );
  process.exit(1);
}
const baseSize = await imageField(nodeImage, "{{.Size}}");
if (!baseSize) {
  console.error(
    `images: the base image ${nodeImage} is not present. Run \`bash scripts/docker-env.sh\`, which ` +
      "pulls it or builds a local stand-in and records it in dist/docker.env, or pass --node-image.",
  );
  process.exit(1);
}
const baseBytes = Number(baseSize);

if (await bundleIsStale()) {
  say("images: dist/image/flotilla.mjs is missing or older than the sources; npm run build");
  const build = spawnSync("npm", ["run", "-s", "build"], {
    cwd: ROOT,
    stdio: ["ignore", flags.json ? "pipe" : "inherit", "inherit"],
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const context = mkdtempSync(join(tmpdir(), "flotilla-images-"));
mkdirSync(join(context, "dist/image"), { recursive: true });
copyFileSync(BUNDLE, join(context, "dist/image/flotilla.mjs"));
const source = sourceUrl(pkg);

interface ImageReport {
  id: string;
  tags: string[];
  bytes: number;
  addsBytes: number;
  buildMs: number;
}
const images: Record<string, ImageReport> = {};
let failure: string | undefined;
try {
  for (const role of ROLES) {
    const started = Date.now();
    const args = ["build", "-q", "-f", DOCKERFILE, "--target", role];
    const buildArgs = { NODE_IMAGE: nodeImage, VERSION: version, SOURCE: source };
    for (const [key, value] of Object.entries(buildArgs)) {
      args.push("--build-arg", `${key}=${value}`);
    }
    const out = await run("docker", [...args, context], { ...process.env, DOCKER_BUILDKIT: "0" });
    const id = out.stdout.trim().split("\n").pop() ?? "";
    if (out.code !== 0 || !id.startsWith("sha256:")) {
      failure = `images: docker build of ${role} failed:\n${out.stdout}${out.stderr}`;
      break;
    }
    const bytes = Number(await imageField(id, "{{.Size}}"));
    const tags = [`flotilla/${role}:${version}`, `flotilla/${role}:latest`];
    images[role] = { id, tags, bytes, addsBytes: bytes - baseBytes, buildMs: Date.now() - started };
  }
  // Every image carries the same bundle: one run proves it loads on the bare base. Only then are
  // the images tagged, so a broken bundle leaves the previous images in place.
  const first = Object.values(images)[0];
  const smoke = failure || !first ? undefined : await run("docker", smokeArgs(first.id));
  if (smoke && smoke.stdout.trim() !== version) {
    failure =
      `images: the bundle does not run in the image (node /app/flotilla.mjs version printed ` +
      `${JSON.stringify(smoke.stdout.trim())}):\n${smoke.stderr.trim()}\nSee scripts/build.ts.`;
  }
  for (const image of failure ? [] : Object.values(images)) {
    for (const tag of image.tags) {
      const tagged = await run("docker", ["tag", image.id, tag]);
      if (tagged.code !== 0) failure = `images: docker tag ${tag} failed: ${tagged.stderr}`;
    }
  }
} finally {
  rmSync(context, { recursive: true, force: true });
}
if (failure) {
  console.error(failure);
  process.exit(1);
}

if (flags.json) {
  console.log(JSON.stringify({ base: { image: nodeImage, bytes: baseBytes }, version, images }));
} else {
  say(`images: base ${nodeImage} ${(baseBytes / MB).toFixed(1)} MB`);
  for (const image of Object.values(images)) {
    say(
      `images: ${image.tags.join(", ")}  ${(image.bytes / MB).toFixed(1)} MB, ` +
        `adds ${(image.addsBytes / MB).toFixed(2)} MB to the base (${image.buildMs} ms)`,
    );
  }
}
