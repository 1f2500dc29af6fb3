/** sinks.file: staged in-progress parts, commit by rename, idempotent re-commit, finish, cleanup. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { ErrorCode, FlotillaError } from "../../../../components/core/mod.ts";
import { type FileStaged, sinks } from "../../../../components/dataflow/sinks/mod.ts";
import { testContext } from "../../../support/dataflow.ts";

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-file-sink-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "out");
}

/** Final part files (not hidden) and their lines. */
function visible(dir: string): Record<string, string[]> {
  if (!existsSync(dir)) return {};
  const files: Record<string, string[]> = {};
  for (const name of readdirSync(dir)
    .filter((n) => !n.startsWith("."))
    .sort()) {
    files[name] = readFileSync(join(dir, name), "utf8").split("\n").slice(0, -1);
  }
  return files;
}

const hidden = (dir: string) => readdirSync(dir).filter((n) => n.startsWith("."));

t.test("writes become visible only when their checkpoint commits", async (t) => {
  const path = tempDir(t);
  const writer = sinks.file<{ n: number }>({ path }).createWriter(testContext({ subtask: 1 }));
  writer.write({ n: 1 }, undefined);
  writer.write({ n: 2 }, undefined);
  const staged1 = writer.prepareCommit!(1) as FileStaged;
  writer.write({ n: 3 }, undefined);
  const staged2 = writer.prepareCommit!(2) as FileStaged;
  t.same(visible(path), {}, "nothing visible before the commit");
  t.equal(hidden(path).length, 2, "two in-progress parts");

  await writer.commit!([{ checkpointId: 1, staged: staged1 }]);
  const first = visible(path);
  t.same(Object.values(first), [['{"n":1}', '{"n":2}']]);
  t.match(Object.keys(first)[0], /^part-1-1-01234567-0$/);

  await writer.commit!([{ checkpointId: 2, staged: staged2 }]);
  t.same(Object.values(visible(path)), [['{"n":1}', '{"n":2}'], ['{"n":3}']]);
  t.same(hidden(path), [], "no in-progress part left");
});

t.test("committing the same staged parts again (after a restore) changes nothing", async (t) => {
  const path = tempDir(t);
  const writer = sinks.file({ path }).createWriter(testContext());
  for (let i = 0; i < 1000; i++) writer.write({ i, text: "x".repeat(100) }, undefined);
  const staged = { checkpointId: 7, staged: writer.prepareCommit!(7) };
  await writer.commit!([staged]);
  const before = visible(path);
  t.equal(Object.values(before)[0]!.length, 1000, "all records, across buffer flushes");

  // The restored attempt's writer commits the checkpoint's staged data once more.
  const restored = sinks.file({ path }).createWriter(testContext({ attempt: 1 }));
  await restored.commit!([structuredClone(staged)]);
  await writer.commit!([staged]);
  t.same(visible(path), before);
});

t.test("a checkpoint with no records stages nothing and creates no file", async (t) => {
  const path = tempDir(t);
  const writer = sinks.file({ path }).createWriter(testContext());
  const staged = writer.prepareCommit!(1);
  t.same(staged, { files: [] });
  await writer.commit!([{ checkpointId: 1, staged }]);
  t.same(visible(path), {});
});

t.test("without checkpoints, finish makes everything written visible", async (t) => {
  const path = tempDir(t);
  const writer = sinks
    .file<string>({ path, format: (s) => s.toUpperCase(), suffix: ".txt" })
    .createWriter(testContext());
  writer.write("a", undefined);
  writer.write("b", undefined);
  await writer.finish!();
  t.same(visible(path), { "part-0-end-01234567-0.txt": ["A", "B"] });
});

t.test("close drops the part that was never staged", async (t) => {
  const path = tempDir(t);
  const writer = sinks.file({ path }).createWriter(testContext());
  writer.write(1, undefined);
  const staged = writer.prepareCommit!(1);
  writer.write(2, undefined);
  for (let i = 0; i < 2000; i++) writer.write("y".repeat(64), undefined); // forces a part on disk
  t.equal(hidden(path).length, 2);
  await writer.close!();
  t.equal(hidden(path).length, 1, "only the staged part is left");
  await writer.commit!([{ checkpointId: 1, staged }]);
  t.same(Object.values(visible(path)), [["1"]]);
});

t.test("a staged part that vanished is a typed error naming the files", async (t) => {
  const path = tempDir(t);
  const writer = sinks.file({ path }).createWriter(testContext());
  const staged = { files: [{ inProgress: ".part-0-p0-gone.inprogress", final: "part-0-3-gone" }] };
  const err = await writer.commit!([{ checkpointId: 3, staged }]).catch((e: unknown) => e);
  t.type(err, FlotillaError);
  t.equal((err as FlotillaError).code, ErrorCode.INTERNAL);
  t.match((err as Error).message, /part-0-p0-gone.*part-0-3-gone/);
  t.throws(() => sinks.file({ path: "" }), { code: ErrorCode.INVALID_ARGUMENT });
});
