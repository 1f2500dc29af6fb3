/**
 * `npm run bench -- <name> [--json] [flags]`: runs `test/bench/<name>.ts` and prints its table,
 * or with `--json` exactly one JSON object on stdout and nothing else (DESIGN.md section 9).
 * Progress and diagnostics go to stderr; other flags are passed to the benchmark.
 */
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type BenchResult, formatTable, report } from "./report.ts";

const EX_USAGE = 64;
const here = fileURLToPath(new URL(".", import.meta.url));

interface Benchmark {
  run(args: string[]): Promise<BenchResult[]>;
}

/** A benchmark is a module here that exports `run`; helpers (servers, report) do not. */
export function availableBenchmarks(dir = here): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith(".ts"))
    .filter((file) =>
      /export\s+async\s+function\s+run\s*\(/.test(readFileSync(`${dir}/${file}`, "utf8")),
    )
    .map((file) => file.slice(0, -".ts".length))
    .sort();
}

function usage(why: string): never {
  const names = availableBenchmarks();
  process.stderr.write(
    `${why}; available benchmarks: ${names.join(", ") || "(none)"} (npm run bench -- <name> [--json])\n`,
  );
  process.exit(EX_USAGE);
}

/** In --json mode stdout carries the one JSON object: anything else printed goes to stderr. */
function guardStdout(): (text: string) => void {
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) =>
    (process.stderr.write as (...a: unknown[]) => boolean)(
      chunk,
      ...rest,
    )) as typeof process.stdout.write;
  return (text) => {
    stdoutWrite(text);
  };
}

/** If something still keeps the process alive after the benchmark, say what, then exit anyway. */
function exitWhenDone(): void {
  setTimeout(() => {
    const left = process.getActiveResourcesInfo().filter((r) => !/^(TTYWrap|PipeWrap)$/.test(r));
    process.stderr.write(`bench: still running after the benchmark finished: ${left.join(", ")}\n`);
    process.exit();
  }, 2000).unref();
}

async function main(argv: string[]): Promise<void> {
  const json = argv.includes("--json");
  const rest = argv.filter((a) => a !== "--json");
  const name = rest[0];
  if (!name || name.startsWith("-")) usage("no benchmark named");
  if (!availableBenchmarks().includes(name)) usage(`unknown benchmark ${JSON.stringify(name)}`);
  const write = json ? guardStdout() : (text: string) => void process.stdout.write(text);

  const bench = (await import(`./${name}.ts`)) as Benchmark;
  const started = Date.now();
  let results: BenchResult[];
  try {
    results = await bench.run(rest.slice(1));
  } catch (err) {
    process.stderr.write(`bench ${name} failed: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
    exitWhenDone();
    return;
  }
  process.stderr.write(`bench ${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  const r = report(name, results);
  write(json ? `${JSON.stringify(r)}\n` : `${formatTable(r)}\n`);
  exitWhenDone();
}

await main(process.argv.slice(2));
