/**
 * `npm run bench -- cli`: what a user waits for at the command line.
 * 1. Wall time of `flotilla run examples/wordcount.ts --target local` from spawn to exit (goal
 *    < 1.5 s), as bin/flotilla.js picks (the prebuilt bundle when fresh) and from the TypeScript
 *    sources, and of `flotilla version` (CLI start, no cluster), against a bare `node -e ""`.
 * 2. Bundle + upload of examples/sequence-check.ts to a warm `flotilla start mini` process (goal
 *    < 300 ms), cold (the first in this process) and warm (p50/max of repeats: the same bytes,
 *    which the cluster already has, and new bytes, which it must store), against a plain
 *    `GET /healthz` round trip; and the bundle alone.
 *
 * Flags: --runs N (spawns per command, default 5), --uploads N (warm bundle+uploads, default 20).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { bundleIsFresh } from "../../bin/bundle_fresh.js";
import { remoteCluster } from "../../components/cli/cluster_api.ts";
import { bundleJob } from "../../components/dataflow/internal_mod.ts";
import { freePort } from "../support/nats.ts";
import { TEST_TOKEN, TOKEN_ENV } from "../support/rest_token.ts";
import { numberFlag } from "./measure.ts";
import { type BenchResult, percentile } from "./report.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const BIN = "bin/flotilla.js";
const EXAMPLE = fileURLToPath(new URL("../../examples/sequence-check.ts", import.meta.url));
const progress = (line: string) => process.stderr.write(`[bench cli] ${line}\n`);

/** No cluster configured and quiet logs, whatever the caller's shell has. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("FLOTILLA_")),
  );
  return { ...env, FLOTILLA_LOG_LEVEL: "error", ...TOKEN_ENV, ...extra };
}

/** Milliseconds from spawn to exit; throws unless it exited 0 and printed what `expect` wants. */
async function timeSpawn(
  args: string[],
  expect?: RegExp,
  env: Record<string, string> = {},
): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: cleanEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    output += c.toString();
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  const ms = performance.now() - started;
  if (code !== 0 || (expect && !expect.test(output))) {
    throw new Error(`node ${args.join(" ")} exited ${code}:\n${output.slice(-2000)}`);
  }
  return ms;
}

function summary(
  name: string,
  samples: number[],
  baseline?: string,
  unit: BenchResult["unit"] = "ms",
): BenchResult[] {
  return [
    { name: `${name} p50`, value: percentile(samples, 0.5), unit },
    { name: `${name} max`, value: Math.max(...samples), unit },
  ].map((r, i) => (baseline ? { ...r, baseline: `${baseline} ${i === 0 ? "p50" : "max"}` } : r));
}

async function commandStartup(runs: number): Promise<BenchResult[]> {
  const commands = [
    { name: 'node -e ""', args: ["-e", ""] },
    { name: "flotilla version", args: [BIN, "version"], expect: /^\d+\.\d+\.\d+/m },
    {
      name: "flotilla run wordcount --target local",
      args: [BIN, "run", "examples/wordcount.ts", "--target", "local"],
      expect: /\{"word":"to","count":13\}[\s\S]*FINISHED/,
    },
    {
      name: "flotilla run wordcount, from source",
      args: [BIN, "run", "examples/wordcount.ts", "--target", "local"],
      expect: /\{"word":"to","count":13\}[\s\S]*FINISHED/,
      env: { FLOTILLA_FROM_SOURCE: "1" },
    },
  ];
  progress(
    bundleIsFresh()
      ? "dist/flotilla.mjs is fresh: bin/flotilla.js runs the prebuilt bundle"
      : "dist/flotilla.mjs is missing or older than the sources: bin/flotilla.js runs them through tsx (npm run build first to measure the bundle)",
  );
  const samples = new Map(commands.map((c) => [c.name, [] as number[]]));
  progress("warm-up: one spawn of each command (file cache, esbuild's service binary)");
  for (const c of commands) await timeSpawn(c.args, c.expect, c.env);
  for (let round = 0; round < runs; round++) {
    progress(`spawn round ${round + 1}/${runs}`);
    // Rotating who goes first spreads a slow patch of the machine over every command.
    for (let i = 0; i < commands.length; i++) {
      const c = commands[(i + round) % commands.length]!;
      samples.get(c.name)!.push(await timeSpawn(c.args, c.expect, c.env));
    }
  }
  const [bare, ...rest] = commands;
  return [
    ...summary(bare!.name, samples.get(bare!.name)!),
    ...rest.flatMap((c) => summary(c.name, samples.get(c.name)!, bare!.name)),
  ];
}

/** `flotilla start mini` on a free port; resolves once GET /healthz answers 200. */
async function startMini(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [BIN, "start", "mini", "--rest-port", String(port)], {
    cwd: ROOT,
    env: cleanEnv({ FLOTILLA_REST_ADDRESS: "127.0.0.1" }),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const deadline = Date.now() + 30_000;
  // The port is the only signal the child gives that it is ready: poll it.
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `flotilla start mini exited (${child.exitCode ?? child.signalCode}):\n${stderr}`,
      );
    }
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { url, child };
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`flotilla start mini did not answer ${url}/healthz within 30 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(killer);
}

function withComment(bytes: Uint8Array, comment: string): Uint8Array {
  const tail = new TextEncoder().encode(`\n${comment}\n`);
  const out = new Uint8Array(bytes.length + tail.length);
  out.set(bytes);
  out.set(tail, bytes.length);
  return out;
}

async function bundleAndUpload(uploads: number): Promise<BenchResult[]> {
  progress("starting flotilla start mini");
  const { url, child } = await startMini();
  try {
    const cluster = remoteCluster(url, { token: TEST_TOKEN });
    // A warm repeat sends the same bytes, which the cluster already has: the client asks for
    // them by hash and skips the POST. A unique trailing comment forces a real upload.
    const once = async (fresh?: number) => {
      const t0 = performance.now();
      let bytes = await bundleJob(EXAMPLE);
      if (fresh !== undefined) bytes = withComment(bytes, `// bench upload ${fresh}`);
      const t1 = performance.now();
      const { artifact, uploaded } = await cluster.upload(bytes);
      const t2 = performance.now();
      if (!/^[0-9a-f]{64}$/.test(artifact)) throw new Error(`unexpected artifact id ${artifact}`);
      return { bundle: t1 - t0, upload: t2 - t1, total: t2 - t0, size: bytes.length, uploaded };
    };
    progress("cold bundle + upload (first in this process, new to the cluster)");
    const cold = await once();
    progress(`artifact is ${(cold.size / 1024).toFixed(1)} KiB; ${uploads} warm rounds`);
    const health: number[] = [];
    const bundle: number[] = [];
    const upload: number[] = [];
    const total: number[] = [];
    const freshTotal: number[] = [];
    let skipped = 0;
    for (let i = 0; i < uploads; i++) {
      const t0 = performance.now();
      const res = await fetch(`${url}/healthz`);
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`GET /healthz answered ${res.status}`);
      health.push(performance.now() - t0);
      const warm = await once();
      if (!warm.uploaded) skipped++;
      bundle.push(warm.bundle);
      upload.push(warm.upload);
      total.push(warm.total);
      const fresh = await once(i);
      if (!fresh.uploaded) throw new Error("the cluster claims to have bytes it was never sent");
      freshTotal.push(fresh.total);
    }
    progress(
      `cold upload sent the bytes: ${cold.uploaded}; warm repeats skipped: ${skipped}/${uploads}`,
    );
    const base = "GET /healthz";
    return [
      ...summary(base, health),
      { name: "bundle + upload cold", value: cold.total, unit: "ms", baseline: `${base} p50` },
      ...summary("bundle + upload warm, same bytes", total, base),
      ...summary("bundle + upload warm, new bytes", freshTotal, base),
      ...summary("bundle alone warm", bundle),
      ...summary("upload alone warm, same bytes", upload, base),
    ];
  } finally {
    progress("stopping flotilla start mini");
    await stopChild(child);
  }
}

export async function run(args: string[]): Promise<BenchResult[]> {
  const runs = numberFlag(args, "--runs", 5);
  const uploads = numberFlag(args, "--uploads", 20);
  return [...(await commandStartup(runs)), ...(await bundleAndUpload(uploads))];
}
