/**
 * `npm run bench -- abuse`: submit -> RUNNING of a one-record job on a secured cluster of
 * processes (a master and two TaskManagers as the README starts them: NATS users, REST token,
 * graph sandbox, job processes), quiet and while a hostile client floods its control plane
 * (abuse_flooder.ts, a process of its own: garbage, 1e9-slot requirements, hostile CBOR and
 * made-up registrations on the ResourceManager's subject as a compromised TaskManager; unknown
 * routes, 2 MiB and malformed bodies on the REST API as an admin token holder), in one run.
 * The goal (issue 14): p99 under the flood at most 2x quiet. An attacker runs on its own
 * machine: the flooder runs niced (19), so what is measured is what handling the flood costs the
 * cluster; a second flood at our priority shows the same on a machine the attacker shares.
 *
 * Flags: --jobs N (timed submissions per phase, default 40).
 */
import { spawn } from "node:child_process";
import { setPriority } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inboxPrefixOf, nkeyFileOf } from "../../components/security/mod.ts";
import { clusterFor } from "../support/cluster.ts";
import { TEST_TOKEN } from "../support/rest_token.ts";
import { securedNatsFor } from "../support/secured_nats.ts";
import { numberFlag } from "./measure.ts";
import { type BenchResult, percentile } from "./report.ts";
import { timeJobs } from "./submit.ts";

const progress = (line: string) => process.stderr.write(`[bench abuse] ${line}\n`);
const CLUSTER = "abuse";

interface Flooded {
  natsGarbage: number;
  natsRequests: number;
  rest: number;
  seconds: number;
}

function startFlooder(config: Record<string, string>, niced: boolean): () => Promise<Flooded> {
  const script = fileURLToPath(new URL("./abuse_flooder.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), script], {
    env: { ...process.env, FLOOD: JSON.stringify(config) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (niced && child.pid) setPriority(child.pid, 19);
  let out = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return async () => {
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(killer);
    return JSON.parse(out.trim() || "{}") as Flooded;
  };
}

export async function run(args: string[]): Promise<BenchResult[]> {
  const jobs = numberFlag(args, "--jobs", 40);
  const teardowns: (() => unknown)[] = [];
  const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };
  try {
    const { secrets, nats, roleEnv } = await securedNatsFor(t, CLUSTER);
    const cluster = await clusterFor(t, nats, {
      roles: [],
      env: { FLOTILLA_CLUSTER_ID: CLUSTER },
      ready: async () => {},
    });
    cluster.spawn("master", roleEnv("master"));
    cluster.spawn("taskmanager", roleEnv("taskmanager"));
    cluster.spawn("taskmanager", roleEnv("taskmanager"));
    await cluster.waitFor("2 TaskManagers", async () =>
      (await cluster.overview().catch(() => undefined))?.taskmanagers === 2 ? true : undefined,
    );

    progress(`quiet: ${jobs} submissions`);
    const quiet = await timeJobs(cluster, jobs);

    const floodConfig = {
      nats: nats.url,
      seedFile: join(secrets.dir, nkeyFileOf("taskmanager")),
      inboxPrefix: inboxPrefixOf("taskmanager"),
      clusterId: CLUSTER,
      rest: cluster.rest,
      token: TEST_TOKEN,
    };
    /** Times `jobs` submissions while the flooder runs; returns them and what it sent. */
    const underFlood = async (niced: boolean) => {
      progress(
        `under a flood (flooder ${niced ? "niced" : "at our priority"}): ${jobs} submissions`,
      );
      const stopFlood = startFlooder(floodConfig, niced);
      // Let the flood reach its pace before the first timed submission.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      try {
        return { timed: await timeJobs(cluster, jobs), sent: await stopFlood() };
      } catch (err) {
        await stopFlood();
        throw err;
      }
    };
    const elsewhere = await underFlood(true);
    progress(`the flood sent ${JSON.stringify(elsewhere.sent)}`);
    const here = await underFlood(false);
    progress(`the flood sent ${JSON.stringify(here.sent)}`);
    const P50 = "submit->RUNNING p50 quiet";
    const P99 = "submit->RUNNING p99 quiet";
    const rate = (name: string, sent: Flooded, rest = false): BenchResult => ({
      name,
      value: (rest ? sent.rest : sent.natsGarbage + sent.natsRequests) / sent.seconds,
      unit: "ops/s",
    });
    const ms = (name: string, samples: number[], p: number, baseline?: string): BenchResult => ({
      name,
      value: percentile(samples, p),
      unit: "ms",
      ...(baseline ? { baseline } : {}),
    });
    return [
      ms("submit->RUNNING p50 quiet", quiet.toRunning, 0.5),
      ms("submit->RUNNING p99 quiet", quiet.toRunning, 0.99),
      ms("submit->RUNNING p50 under flood", elsewhere.timed.toRunning, 0.5, P50),
      ms("submit->RUNNING p99 under flood", elsewhere.timed.toRunning, 0.99, P99),
      rate("flood: NATS messages/s at the RM", elsewhere.sent),
      rate("flood: REST calls/s at the Dispatcher", elsewhere.sent, true),
      ms("submit->RUNNING p50 under flood, flooder on our CPUs", here.timed.toRunning, 0.5, P50),
      ms("submit->RUNNING p99 under flood, flooder on our CPUs", here.timed.toRunning, 0.99, P99),
      rate("flood on our CPUs: NATS messages/s at the RM", here.sent),
    ];
  } finally {
    for (const fn of teardowns.reverse()) await fn();
  }
}
