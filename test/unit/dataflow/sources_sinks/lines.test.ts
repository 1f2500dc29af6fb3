/** sources.lines: lines across chunk boundaries, byte-offset positions, restores, a missing file. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { ErrorCode, NotFoundError } from "../../../../components/core/mod.ts";
import { sources } from "../../../../components/dataflow/sources/mod.ts";
import type { SourceReader } from "../../../../components/dataflow/types.ts";
import { testContext } from "../../../support/dataflow.ts";

function tempFile(t: { teardown(fn: () => void): void }, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-lines-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "input.txt");
  writeFileSync(path, content);
  return path;
}

async function readAll(reader: SourceReader<string>, max = 2): Promise<string[]> {
  const out: string[] = [];
  for (let batch = await reader.poll(max); batch; batch = await reader.poll(max)) {
    if (batch.values.length > max) throw new Error(`poll(${max}) returned ${batch.values.length}`);
    out.push(...batch.values);
  }
  return out;
}

const LINES = [
  "first",
  "zweite Zeile ü",
  "",
  "ünïcödé across a chunk 🚀",
  "crlf",
  "last without newline",
];
const CONTENT = `${LINES.slice(0, 4).join("\n")}\ncrlf\r\nlast without newline`;

t.test("reads every line, even with chunks smaller than a character", async (t) => {
  const path = tempFile(t, CONTENT);
  const source = sources.lines({ path, chunkSize: 3 });
  t.equal(source.parallelism, 1);
  t.equal(source.bounded, true);
  const reader = source.createReader(testContext());
  t.same(await readAll(reader), LINES);
  t.equal(reader.position(), Buffer.byteLength(CONTENT), "position is the end of the file");
  await reader.close?.();
});

t.test("a restore resumes at the byte offset: no line lost or repeated", async (t) => {
  const path = tempFile(t, `${CONTENT}\n`);
  for (const cut of [1, 2, 3, 4, 5, 6]) {
    const first = sources.lines({ path, chunkSize: 5 }).createReader(testContext());
    const before: string[] = [];
    while (before.length < cut) before.push(...(await first.poll(1))!.values);
    const position = first.position();
    await first.close?.();
    const second = sources.lines({ path, chunkSize: 5 }).createReader(testContext());
    await second.restore!([position]);
    t.same([...before, ...(await readAll(second))], LINES, `cut after ${cut} lines`);
    await second.close?.();
  }
});

t.test("a trailing newline does not make an extra empty line", async (t) => {
  const path = tempFile(t, "a\nb\n");
  t.same(await readAll(sources.lines({ path }).createReader(testContext())), ["a", "b"]);
  const empty = tempFile(t, "");
  t.equal(await sources.lines({ path: empty }).createReader(testContext()).poll(5), null);
});

t.test("a missing file is a NOT_FOUND error naming the path", async (t) => {
  const path = join(tmpdir(), "flotilla-no-such-dir", "missing.txt");
  const reader = sources.lines({ path }).createReader(testContext());
  const err = await reader.poll(5).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, NotFoundError);
  t.equal((err as NotFoundError).code, ErrorCode.NOT_FOUND);
  t.match((err as Error).message, path);
  t.throws(() => sources.lines({ path: "" }), { code: ErrorCode.INVALID_ARGUMENT });
});
