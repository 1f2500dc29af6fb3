/**
 * The `flotilla` CLI under Deno: components/cli/main.ts spawned with the repository's Deno (as
 * `deno task flotilla` runs it), so cac, esbuild's dynamic import, node:* and the package.json
 * import resolve as Deno resolves them. `run` needs no cluster: it starts an embedded MiniCluster.
 */
import assert from "node:assert/strict";
import pkg from "../../package.json" with { type: "json" };

const ROOT = new URL("../../", import.meta.url);
/** By path, as in deno.json's tasks; the test task's --allow-run names exactly this binary. */
const DENO = new URL("node_modules/.bin/deno", ROOT);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function flotilla(...args: string[]): Promise<Ran> {
  const { code, stdout, stderr } = await new Deno.Command(DENO, {
    args: ["run", "-A", "components/cli/main.ts", ...args],
    cwd: ROOT,
    stdin: "null",
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

const explain = (r: Ran) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

Deno.test("flotilla run examples/wordcount.ts prints the counts", async () => {
  const r = await flotilla("run", "examples/wordcount.ts");
  assert.equal(r.code, 0, explain(r));
  assert.match(r.stdout, /^FINISHED \|/m, explain(r));
  // Results are printed one JSON object per line, indented under the sink's name.
  const counts = new Map(
    r.stdout
      .split("\n")
      .filter((line) => line.startsWith("  {"))
      .map((line) => JSON.parse(line) as { word: string; count: number })
      .map((row) => [row.word, row.count]),
  );
  assert.equal(counts.get("to"), 13);
  assert.equal(counts.get("the"), 6);
  assert.equal(counts.get("sleep"), 4);
  assert.equal(counts.get("be"), 3);
  assert.equal(counts.size, 51);
  assert.equal(
    [...counts.values()].reduce((a, b) => a + b, 0),
    86,
  );
});

Deno.test("flotilla plan --json prints the job graph as one JSON object", async () => {
  const r = await flotilla("plan", "examples/wordcount.ts", "--json");
  assert.equal(r.code, 0, explain(r));
  const plan = JSON.parse(r.stdout) as {
    name: string;
    parallelism: number;
    vertices: { name: string; parallelism: number }[];
  };
  assert.equal(plan.name, "wordcount");
  assert.equal(plan.parallelism, 2);
  assert.deepEqual(
    plan.vertices.map((v) => `${v.name}:${v.parallelism}`),
    ["lines:1", "flatMap:2", "count words -> collect sink:2"],
  );
});

Deno.test("flotilla version prints package.json's version", async () => {
  const r = await flotilla("version");
  assert.equal(r.code, 0, explain(r));
  assert.equal(r.stdout.trim(), pkg.version);
});

Deno.test("an unknown command exits 64 (usage)", async () => {
  const r = await flotilla("no-such-command");
  assert.equal(r.code, 64, explain(r));
  assert.match(r.stderr, /unknown command 'no-such-command'/);
  assert.equal(r.stdout, "");
});
