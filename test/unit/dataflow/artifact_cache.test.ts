/**
 * The artifact cache: its directory must be private (created 0700; one that is a symlink, another
 * user's, or writable by others is refused before anything is written or imported), and the
 * job definitions a process keeps are bounded (least recently used out with its cache file,
 * loaded again on demand).
 */
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { ErrorCode } from "../../../components/core/mod.ts";
import {
  artifactHash,
  bundleJob,
  loadArtifact,
  loadedArtifacts,
  MAX_LOADED_ARTIFACTS,
  privateDirectory,
} from "../../../components/dataflow/internal_mod.ts";

const root = mkdtempSync(join(tmpdir(), "flotilla-artifact-dirs-"));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const bundle = await bundleJob("examples/wordcount.ts");
/** The same job under another hash: a comment makes other bytes. */
const variant = (n: number) =>
  new Uint8Array([...bundle, ...new TextEncoder().encode(`\n// variant ${n}\n`)]);

t.test("a cache directory that does not exist is created private (0700)", async (t) => {
  const dir = join(root, "fresh", "cache");
  await loadArtifact(variant(-1), { cacheDir: dir });
  t.equal(statSync(dir).mode & 0o777, 0o700);
  t.same(readdirSync(dir), [`${await artifactHash(variant(-1))}.mjs`]);
});

t.test("a cache directory others could write to is refused, nothing imported", async (t) => {
  const open = join(root, "open");
  mkdirSync(open);
  chmodSync(open, 0o777);
  await t.rejects(loadArtifact(variant(-2), { cacheDir: open }), {
    code: ErrorCode.INVALID_CONFIG,
    message:
      /artifact cache .*open is not private: other users may write to it \(mode 777\).*artifact\.cache-dir/,
  });
  t.same(readdirSync(open), [], "nothing written there");

  const link = join(root, "link");
  const target = join(root, "target");
  mkdirSync(target, { mode: 0o700 });
  symlinkSync(target, link);
  await t.rejects(privateDirectory(link), { message: /not a directory \(a symlink\?\)/ });

  const uid = process.getuid?.();
  if (uid === 0) {
    // Only root can give a directory away: as root, a directory another user owns is refused.
    const theirs = join(root, "theirs");
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, 4242, 4242);
    await t.rejects(privateDirectory(theirs), { message: /belongs to user 4242/ });
  } else t.comment("not root: the other-owner case needs a chown only root may do");
});

t.test("loaded job definitions are bounded; an evicted one loads again", async (t) => {
  const cacheDir = join(root, "lru");
  const first = await artifactHash(variant(0));
  for (let n = 0; n <= MAX_LOADED_ARTIFACTS; n++) await loadArtifact(variant(n), { cacheDir });
  const kept = loadedArtifacts();
  t.equal(kept.length, MAX_LOADED_ARTIFACTS, "never more than the bound");
  t.notOk(kept.includes(first), "the least recently used went");
  const files = () => readdirSync(cacheDir).filter((f) => f.endsWith(".mjs"));
  t.equal(
    files().length,
    MAX_LOADED_ARTIFACTS,
    "its cache file with it: the directory is bounded too",
  );
  t.notOk(files().includes(`${first}.mjs`));
  const again = await loadArtifact(variant(0), { cacheDir, expected: first });
  t.equal(typeof again.graph, "function", "loaded again when needed");
  t.equal(loadedArtifacts().at(-1), first, "now the most recently used");
  t.ok(files().includes(`${first}.mjs`), "its file written again");
  t.equal(files().length, MAX_LOADED_ARTIFACTS);
});
