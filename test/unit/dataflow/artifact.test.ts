/**
 * Artifacts are code: they are imported only as the bytes that were submitted. Bytes fetched by a
 * content address that they do not hash to are refused before anything is imported, and a cached
 * module file that no longer holds its artifact's bytes is rewritten before it is imported.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import { ErrorCode } from "../../../components/core/mod.ts";
import {
  artifactHash,
  bundleJob,
  loadArtifact,
} from "../../../components/dataflow/internal_mod.ts";

const example = (name: string) =>
  fileURLToPath(new URL(`../../../examples/${name}`, import.meta.url));
const cacheDir = mkdtempSync(join(tmpdir(), "flotilla-artifact-cache-"));
t.teardown(() => rmSync(cacheDir, { recursive: true, force: true }));

t.test("bytes that do not hash to the address they were fetched by are refused", async (t) => {
  const bytes = await bundleJob(example("wordcount.ts"));
  const other = await artifactHash(new TextEncoder().encode("something else"));
  await t.rejects(loadArtifact(bytes, { cacheDir, expected: other }), {
    code: ErrorCode.CONFLICT,
    message: new RegExp(`stored as artifact ${other}`),
  });
  const job = await loadArtifact(bytes, { cacheDir, expected: await artifactHash(bytes) });
  t.equal(typeof job.graph, "function", "the right address loads");
});

t.test("a cached module that is not its artifact's bytes is rewritten before import", async (t) => {
  const bytes = await bundleJob(example("windowed-counts.ts"));
  const hash = await artifactHash(bytes);
  const planted = join(cacheDir, `${hash}.mjs`);
  // What another user of a shared cache could leave there under the right name.
  writeFileSync(planted, 'globalThis.flotillaPlanted = true; export default "not a job";\n');
  const job = await loadArtifact(bytes, { cacheDir });
  t.equal(typeof job.graph, "function", "the artifact's own job, not the planted module");
  t.notOk(
    (globalThis as { flotillaPlanted?: boolean }).flotillaPlanted,
    "the planted code never ran",
  );
  t.equal(await artifactHash(readFileSync(planted)), hash, "the cache holds the artifact again");
});
