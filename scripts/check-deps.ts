/**
 * `npm run lint:deps`: the import rules of components/, from dpdm's dependency tree (type-only
 * imports count): no circular import between modules, no cycle between components, and one
 * component reaches another only through its public entry (`mod.ts`, or `internal_mod.ts` for
 * the runtime side of dataflow). Prints every violation and exits 1 if there is any.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ENTRIES = ["mod.ts", "internal_mod.ts"];

interface DpdmOutput {
  tree: Record<string, { id: string | null }[] | null>;
  circulars: string[][];
}

function dependencyTree(): DpdmOutput {
  const dir = mkdtempSync(join(tmpdir(), "flotilla-deps-"));
  try {
    const out = join(dir, "deps.json");
    const run = spawnSync(
      process.platform === "win32" ? "npx.cmd" : "npx",
      ["dpdm", "--no-tree", "--no-warning", "--no-progress", "-o", out, "components/**/*.ts"],
      { encoding: "utf8" },
    );
    if (run.status !== 0) throw new Error(`dpdm failed (${run.status}): ${run.stderr}`);
    return JSON.parse(readFileSync(out, "utf8")) as DpdmOutput;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const componentOf = (file: string): string | undefined =>
  file.startsWith("components/") ? file.split("/")[1] : undefined;

/** Every cycle of the component graph, each once (starting at its smallest name). */
export function componentCycles(graph: Map<string, Set<string>>): string[][] {
  const cycles = new Map<string, string[]>();
  const walk = (start: string, at: string, path: string[]): void => {
    for (const next of graph.get(at) ?? []) {
      if (next === start) {
        const key = [...path].sort().join(",");
        if (!cycles.has(key)) cycles.set(key, [...path, start]);
      } else if (!path.includes(next) && next > start) walk(start, next, [...path, next]);
    }
  };
  for (const start of [...graph.keys()].sort()) walk(start, start, [start]);
  return [...cycles.values()];
}

export function check({ tree, circulars }: DpdmOutput): string[] {
  const problems = circulars.map((c) => `circular import: ${c.join(" -> ")}`);
  const graph = new Map<string, Set<string>>();
  for (const [file, deps] of Object.entries(tree)) {
    const from = componentOf(file);
    if (!from || !deps) continue;
    for (const { id } of deps) {
      const to = id ? componentOf(id) : undefined;
      if (!id || !to || to === from) continue;
      if (!graph.has(from)) graph.set(from, new Set());
      graph.get(from)!.add(to);
      if (!ENTRIES.some((entry) => id === `components/${to}/${entry}`))
        problems.push(`${file} imports ${id}: go through components/${to}/mod.ts`);
    }
  }
  for (const cycle of componentCycles(graph))
    problems.push(`components import each other in a circle: ${cycle.join(" -> ")}`);
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problems = check(dependencyTree());
  for (const p of problems) process.stderr.write(`lint:deps: ${p}\n`);
  if (problems.length > 0) process.exit(1);
  process.stdout.write("lint:deps: no circular imports; components meet only through mod.ts\n");
}
