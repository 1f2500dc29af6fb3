/**
 * Job artifacts: a job module bundled into one ESM file, named by the sha256 of its bytes.
 * JobManagers and TaskManagers load the same bytes and get the same graph.
 *
 * `flotilla` is not bundled: the runtime supplies it. The artifact's `import ... from "flotilla"`
 * becomes a small module that reads the API from `globalThis[Symbol.for("flotilla.runtime")]`,
 * which `loadArtifact` sets to this runtime before importing. So an artifact resolves nothing
 * from disk: the same bytes load under Node and Deno, from the TypeScript sources or from a
 * bundled role in a container image, and from any cache directory.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ErrorCode, FlotillaError } from "../../core/mod.ts";
import { isJobDefinition, type JobDefinition } from "../api/job.ts";
import * as runtime from "../mod.ts";
import { jobRuntimeSettings } from "./job_runtime_settings.ts";

const RUNTIME_KEY = 'Symbol.for("flotilla.runtime")';
const RUNTIME = Symbol.for("flotilla.runtime");

export async function artifactHash(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

const loaded = new Map<string, Promise<JobDefinition>>();

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
      job.catch(() => loaded.delete(hash));
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
  const url =
    cacheDir === null
      ? `data:text/javascript;base64,${Buffer.from(bytes).toString("base64")}`
      : pathToFileURL(await writeArtifactFile(hash, bytes, cacheDir)).href;
  let module: { default?: unknown };
  try {
    module = await import(url);
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
 * The artifact's module file in `cacheDir` (`<sha256>.mjs`), written unless it is there and still
 * these bytes (the cache may be shared): what an import reads.
 */
async function writeArtifactFile(
  hash: string,
  bytes: Uint8Array,
  cacheDir: string,
): Promise<string> {
  const path = join(cacheDir, `${hash}.mjs`);
  if (!existsSync(path) || (await artifactHash(await readFile(path))) !== hash) {
    await mkdir(cacheDir, { recursive: true });
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, bytes, { flag: "wx" });
    await rename(tmp, path);
  }
  return path;
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
