/**
 * Runs a job module on the local executor (every task in this process) and prints what its
 * `collect` sinks gathered: `npm start` runs the word count this way. The `flotilla run` CLI
 * (with bundling, clusters and progress) supersedes it.
 * Usage: tsx scripts/run-local.ts <job.ts> [--arg key=value ...] [--parallelism N]
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createLogger } from "../components/core/mod.ts";
import { runLocal } from "../components/dataflow/internal_mod.ts";
import { isJobDefinition } from "../components/dataflow/mod.ts";

const argv = process.argv.slice(2);
const file = argv[0];
if (!file) {
  console.error("usage: tsx scripts/run-local.ts <job.ts> [--arg key=value ...] [--parallelism N]");
  process.exit(64);
}
const args: Record<string, string> = {};
let parallelism: number | undefined;
for (let i = 1; i < argv.length; i++) {
  if (argv[i] === "--arg") {
    const [key, ...value] = (argv[++i] ?? "").split("=");
    if (!key || value.length === 0) {
      console.error(`--arg needs key=value, got ${JSON.stringify(argv[i] ?? "")}`);
      process.exit(64);
    }
    args[key] = value.join("=");
  } else if (argv[i] === "--parallelism") {
    parallelism = Number(argv[++i]);
  }
}
const module = await import(pathToFileURL(resolve(file)).href);
if (!isJobDefinition(module.default)) {
  console.error(`${file}: the default export is not a job; export default defineJob(...)`);
  process.exit(1);
}
const graph = module.default.graph({ args, ...(parallelism ? { parallelism } : {}) });
const result = await runLocal(graph, { log: createLogger({ level: "warn" }) }).result;
for (const [sink, values] of Object.entries(result.results)) {
  console.log(`${sink}: ${values.length} results`);
  for (const value of values) console.log(`  ${JSON.stringify(value)}`);
}
console.log(`${graph.options.name}: ${result.state} in ${result.durationMs} ms`);
if (result.state !== "finished") {
  console.error(result.error?.message ?? result.state);
  process.exit(result.state === "canceled" ? 2 : 1);
}
