/**
 * Job artifacts: a job module bundled into one ESM file with `flotilla` left external, named by
 * the sha256 of its bytes. JobManagers and TaskManagers load the same bytes and get the same
 * graph. Loaded artifacts are cached on disk under the package's `.flotilla/artifacts/`, inside
 * the package so that the artifact's `import "flotilla"` resolves to this very runtime.
 */
import { existsSync } from "node:fs";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ErrorCode, FlotillaError } from "../../core/mod.ts";
import { isJobDefinition, type JobDefinition } from "../api/job.ts";

/** Where artifacts are cached: `<flotilla package>/.flotilla/artifacts`. */
export const ARTIFACT_CACHE = fileURLToPath(
  new URL("../../../.flotilla/artifacts/", import.meta.url),
);

export async function artifactHash(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}

const loaded = new Map<string, Promise<JobDefinition>>();

/**
 * Imports an artifact (once per process and hash) and returns its job definition. A module
 * whose default export is not `defineJob(...)` is a clear INVALID_ARGUMENT error.
 */
export function loadArtifact(
  bytes: Uint8Array,
  { cacheDir = ARTIFACT_CACHE, name = "artifact" } = {},
): Promise<JobDefinition> {
  return artifactHash(bytes).then((hash) => {
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
  cacheDir: string,
  name: string,
): Promise<JobDefinition> {
  const path = join(cacheDir, `${hash}.mjs`);
  if (!existsSync(path)) {
    await mkdir(cacheDir, { recursive: true });
    await writeFile(`${path}.tmp`, bytes);
    await rename(`${path}.tmp`, path);
  }
  let module: { default?: unknown };
  try {
    module = await import(pathToFileURL(path).href);
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

/** Bundles a job module with esbuild into one ESM file, `flotilla` kept external. */
export async function bundleJob(entry: string): Promise<Uint8Array> {
  const { build } = await import("esbuild");
  try {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      format: "esm",
      platform: "node",
      target: "node20",
      external: ["flotilla", "node:*"],
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
