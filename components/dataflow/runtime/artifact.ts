/**
 * Job artifacts: a job module bundled into one ESM file, named by the sha256 of its bytes.
 * JobManagers and TaskManagers load the same bytes and get the same graph.
 *
 * `flotilla` is not bundled: the runtime supplies it. The artifact's `import ... from "flotilla"`
 * becomes a small module that reads the API from `globalThis[Symbol.for("flotilla.runtime")]`,
 * which `loadArtifact` sets to this runtime before importing. So an artifact resolves nothing
 * from disk: the same bytes load under Node and Deno, from the TypeScript sources or from a
 * bundled role in a container image, and from any cache directory.
 *
 * The cache directory is private (0700, ours, not a symlink) and a cached file is imported only
 * after its bytes hash to its name: a file planted there is rewritten, never run.
 */
import { lstat, mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ErrorCode, FlotillaError, LruCache } from "../../core/mod.ts";
import { isJobDefinition, type JobDefinition } from "../api/job.ts";
import * as runtime from "../mod.ts";
import { currentUid, jobRuntimeSettings } from "./job_runtime_settings.ts";

const RUNTIME_KEY = 'Symbol.for("flotilla.runtime")';
const RUNTIME = Symbol.for("flotilla.runtime");

export async function artifactHash(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/**
 * Job definitions loaded in this process, by hash. Bounded: an evicted artifact's cache file is
 * deleted and it is imported again when needed (Node keeps the module itself, by URL).
 */
export const MAX_LOADED_ARTIFACTS = 64;
/** The cache files this process wrote, by hash: deleted when their artifact is evicted. */
const files = new Map<string, string>();
const forgetFile = (hash: string) => {
  const path = files.get(hash);
  files.delete(hash);
  if (path) void unlink(path).catch(() => {});
};
const loaded = new LruCache<string, Promise<JobDefinition>>(MAX_LOADED_ARTIFACTS, {
  onEvict: forgetFile,
});

/** Hashes of the artifacts whose definitions this process keeps, least recently used first. */
export function loadedArtifacts(): string[] {
  return loaded.keys();
}

/**
 * Imports an artifact (once per process and hash) and returns its job definition. A module
 * whose default export is not `defineJob(...)` is a clear INVALID_ARGUMENT error. `expected`,
 * the content address the bytes were fetched by, must be their sha256: bytes that do not hash
 * to it (an object rewritten in the store) are refused, never imported. `cacheDir` defaults to
 * the process's `artifact.cache-dir`; `null` imports the bytes from memory (a data: URL), which a
 * graph sandbox that may read and write no file does.
 */
export function loadArtifact(
  bytes: Uint8Array,
  {
    cacheDir = jobRuntimeSettings().artifactCacheDir,
    name = "artifact",
    expected,
  }: { cacheDir?: string | null; name?: string; expected?: string } = {},
): Promise<JobDefinition> {
  return artifactHash(bytes).then((hash) => {
    if (expected !== undefined && expected !== hash)
      throw new FlotillaError(
        ErrorCode.CONFLICT,
        `${name}: the bytes stored as artifact ${expected} hash to ${hash}: refusing to load code that is not the artifact submitted`,
      );
    let job = loaded.get(hash);
    if (!job) {
      job = importArtifact(hash, bytes, cacheDir, name);
      loaded.set(hash, job);
      job.catch(() => {
        if (loaded.peek(hash) !== job) return;
        loaded.delete(hash);
        forgetFile(hash);
      });
    }
    return job;
  });
}

async function importArtifact(
  hash: string,
  bytes: Uint8Array,
  cacheDir: string | null,
  name: string,
): Promise<JobDefinition> {
  (globalThis as Record<symbol, unknown>)[RUNTIME] ??= runtime;
  const url = async () => {
    if (cacheDir === null)
      return `data:text/javascript;base64,${Buffer.from(bytes).toString("base64")}`;
    const path = await writeArtifactFile(hash, bytes, cacheDir);
    files.set(hash, path);
    return pathToFileURL(path).href;
  };
  const first = await url();
  let module: { default?: unknown };
  try {
    module = await import(first).catch(async (err: { code?: string }) => {
      // Another process of this user evicted the file between our write and our import: once
      // more, under a URL Node has not seen (a failed import may be remembered by URL).
      if (err.code !== "ERR_MODULE_NOT_FOUND" || cacheDir === null) throw err;
      return import(`${await url()}?again`);
    });
  } catch (err) {
    throw new FlotillaError(
      ErrorCode.INVALID_ARGUMENT,
      `${name} (${hash.slice(0, 12)}) failed to load: ${(err as Error).message}`,
    );
  }
  if (!isJobDefinition(module.default)) {
    throw new FlotillaError(
      ErrorCode.INVALID_ARGUMENT,
      `${name} (${hash.slice(0, 12)}) does not export a job: its default export must be defineJob(...)`,
    );
  }
  return module.default;
}

/**
 * The artifact's module file in `cacheDir` (`<sha256>.mjs`), written unless it is there and hashes
 * to its name (a file with the right name and other bytes is replaced): what an import reads.
 */
export async function writeArtifactFile(
  hash: string,
  bytes: Uint8Array,
  cacheDir: string,
): Promise<string> {
  await privateDirectory(cacheDir);
  const path = join(cacheDir, `${hash}.mjs`);
  const cached = await readFile(path).catch(() => undefined);
  if (!cached || (await artifactHash(cached)) !== hash) {
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, bytes, { flag: "wx", mode: 0o600 });
    await rename(tmp, path);
  }
  return path;
}

const checkedDirectories = new Set<string>();

/**
 * Creates `dir` (0700) or checks it is private: a directory, not a symlink, owned by this user
 * and writable by no one else. Another user who could write there could plant code we import.
 */
export async function privateDirectory(dir: string): Promise<void> {
  if (checkedDirectories.has(dir)) return;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await lstat(dir);
  const uid = currentUid();
  const why = !info.isDirectory()
    ? "it is not a directory (a symlink?)"
    : uid !== undefined && info.uid !== uid
      ? `it belongs to user ${info.uid}, not to this process's user ${uid}`
      : (info.mode & 0o022) !== 0
        ? `other users may write to it (mode ${(info.mode & 0o777).toString(8)})`
        : undefined;
  if (why)
    throw new FlotillaError(
      ErrorCode.INVALID_CONFIG,
      `the artifact cache ${dir} is not private: ${why}; set artifact.cache-dir to a directory only this user can write, or remove it`,
    );
  checkedDirectories.add(dir);
}

/** The first line of every artifact. */
const BANNER = "// flotilla job artifact 1";

/** Whether these bytes are an artifact (a bundled job reading flotilla from the runtime). */
export function isArtifact(bytes: Uint8Array): boolean {
  return new TextDecoder().decode(bytes.subarray(0, BANNER.length)) === BANNER;
}

/** The module that stands for `flotilla` inside an artifact: the API the loading runtime set. */
function runtimeShim(): string {
  const names = Object.keys(runtime).sort();
  return [
    `const flotilla = globalThis[${RUNTIME_KEY}];`,
    `if (!flotilla) throw new Error("this job artifact must be loaded by the flotilla runtime");`,
    ...names.map((name) => `export const ${name} = flotilla.${name};`),
  ].join("\n");
}

/** Bundles a job module with esbuild into one ESM file; `flotilla` is the runtime's (see top). */
export async function bundleJob(entry: string): Promise<Uint8Array> {
  const { build } = await import("esbuild");
  const shim = {
    name: "flotilla-runtime",
    setup(b: import("esbuild").PluginBuild) {
      b.onResolve({ filter: /^flotilla$/ }, () => ({ path: "flotilla", namespace: "flotilla" }));
      b.onLoad({ filter: /.*/, namespace: "flotilla" }, () => ({
        contents: runtimeShim(),
        loader: "js",
      }));
    },
  };
  try {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      external: ["node:*"],
      banner: { js: BANNER },
      plugins: [shim],
      write: false,
      logLevel: "silent",
    });
    return result.outputFiles[0]!.contents;
  } catch (err) {
    const errors = (
      err as { errors?: { text: string; location?: { file: string; line: number } }[] }
    ).errors;
    const first = errors?.[0];
    const where = first?.location ? `${first.location.file}:${first.location.line}: ` : "";
    throw new FlotillaError(
      ErrorCode.INVALID_ARGUMENT,
      `cannot bundle ${entry}: ${where}${first?.text ?? (err as Error).message}`,
    );
  }
}
