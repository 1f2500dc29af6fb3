/**
 * `npm run bench -- security`: what authentication costs, measured against the same thing without
 * it in the same run. RPC: a block's request/reply over NATS as anonymous clients of an open
 * server vs as the cluster's NATS users (nkeys, allow lists) of a server that checks them; REST:
 * an HTTP route bare vs behind the bearer-token gate. Data plane: records/s published through a
 * subject to a subscriber, open vs as the taskmanager user. Submit: submit -> RUNNING of a
 * one-record job on a cluster of processes, open (no NATS users, REST authentication none, graphs
 * built in the Dispatcher, tasks in the TaskManagers) vs authenticated (NATS users, REST token) vs
 * that plus the graph sandbox and job processes (a process per submission and one per job on each
 * TaskManager, the roles' defaults), back to back and 0.5 s apart (when the sandbox's warm spare
 * is ready). RPC and data plane with TLS too (mutual TLS on NATS, HTTPS),
 * its cost printed against the same open baseline.
 *
 * Flags: --calls N (sequential RPC calls per case, default 3000), --records N (data plane, default
 * 200000), --jobs N (submissions per cluster, default 40), --section rpc|data-plane|submit.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { subjects } from "../../components/core/mod.ts";
import {
  createClient,
  type FetchApp,
  httpTransport,
  natsTransport,
  serveHttp,
  serveNats,
  unwrap,
} from "../../components/rpc/mod.ts";
import {
  clientCertOf,
  clientKeyOf,
  ensureClusterSecrets,
  ensureTlsFiles,
  guardRest,
  NATS_AUTH_CONF,
  type NatsUser,
  nkeyFileOf,
  TLS_FILES,
  withBearer,
} from "../../components/security/mod.ts";
import { clusterFor } from "../support/cluster.ts";
import { natsUserOptions } from "../support/compose.ts";
import { type EchoBlock, echoBlock } from "../support/echo_block.ts";
import { type NatsServer, startNats } from "../support/nats.ts";
import { TEST_TOKEN } from "../support/rest_token.ts";
import { measureCases, numberFlag } from "./measure.ts";
import type { BenchResult } from "./report.ts";
import { timeJobs } from "./submit.ts";

const progress = (line: string) => process.stderr.write(`[bench security] ${line}\n`);
const CLUSTER = "bench";

interface Servers {
  open: NatsServer;
  secured: NatsServer;
  /** As `secured`, over mutual TLS. */
  tls: NatsServer;
  credentials: string;
  as(user: NatsUser, overTls?: boolean): Promise<NatsConnection>;
  restTls: { cert: string; key: string; ca: string };
}

async function servers(teardowns: (() => unknown)[]): Promise<Servers> {
  const root = mkdtempSync(join(tmpdir(), "flotilla-bench-security-"));
  teardowns.push(() => rmSync(root, { recursive: true, force: true }));
  const secrets = ensureClusterSecrets(join(root, "credentials"), { clusterId: CLUSTER });
  const open = await startNats();
  teardowns.push(() => open.cleanup());
  const authorization = readFileSync(secrets.files[NATS_AUTH_CONF]!, "utf8");
  const secured = await startNats({ authorization });
  teardowns.push(() => secured.cleanup());
  ensureTlsFiles(secrets.dir);
  const file = (name: string) => join(secrets.dir, name);
  const tls = await startNats({
    authorization,
    tls: {
      cert: file(TLS_FILES.natsCert),
      key: file(TLS_FILES.natsKey),
      ca: file(TLS_FILES.ca),
      verify: true,
    },
  });
  teardowns.push(() => tls.cleanup());
  return {
    open,
    secured,
    tls,
    credentials: secrets.dir,
    async as(user, overTls = false) {
      const nc = await connect({
        servers: overTls ? tls.url : secured.url,
        ...natsUserOptions(secrets.dir, user),
        ...(overTls
          ? {
              tls: {
                caFile: file(TLS_FILES.ca),
                certFile: file(clientCertOf(user)),
                keyFile: file(clientKeyOf(user)),
              },
            }
          : {}),
      });
      teardowns.push(() => nc.close());
      return nc;
    },
    restTls: {
      cert: readFileSync(file(TLS_FILES.restCert), "utf8"),
      key: readFileSync(file(TLS_FILES.restKey), "utf8"),
      ca: readFileSync(file(TLS_FILES.ca), "utf8"),
    },
  };
}

async function rpc(s: Servers, args: string[], teardowns: (() => unknown)[]) {
  const calls = numberFlag(args, "--calls", 3000);
  const subject = subjects.dispatcher(CLUSTER);
  const openServe = await connect({ servers: s.open.url });
  const openCall = await connect({ servers: s.open.url });
  teardowns.push(
    () => openServe.close(),
    () => openCall.close(),
  );
  const served = [
    serveNats(echoBlock(), { nc: openServe, subject }),
    serveNats(echoBlock(), { nc: await s.as("dispatcher"), subject }),
    serveNats(echoBlock(), { nc: await s.as("dispatcher", true), subject }),
  ];
  teardowns.push(() => Promise.all(served.map((x) => x.stop())));
  const open = createClient<EchoBlock>(natsTransport(openCall, subject));
  const users = createClient<EchoBlock>(natsTransport(await s.as("cli"), subject));
  const overTls = createClient<EchoBlock>(natsTransport(await s.as("cli", true), subject));
  const gate = (): FetchApp => guardRest(echoBlock(), { tokens: { admin: [TEST_TOKEN] } });
  const http = await serveHttp(echoBlock());
  const gated = await serveHttp(gate());
  const { ca, ...certificate } = s.restTls;
  const https = await serveHttp(gate(), { tls: certificate });
  teardowns.push(
    () => http.close(),
    () => gated.close(),
    () => https.close(),
  );
  const bare = createClient<EchoBlock>(httpTransport(http.url));
  const token = createClient<EchoBlock>(withBearer(httpTransport(gated.url), TEST_TOKEN));
  const tokenTls = createClient<EchoBlock>(
    withBearer(httpTransport(https.url, { ca }), TEST_TOKEN),
  );
  const nats = await measureCases(
    [
      { name: "rpc NATS open", call: () => unwrap(open.ping.$get()) },
      { name: "rpc NATS users", call: () => unwrap(users.ping.$get()) },
      { name: "rpc NATS users+TLS", call: () => unwrap(overTls.ping.$get()) },
    ],
    { calls, ops: calls * 2, progress },
  );
  const rest = await measureCases(
    [
      { name: "REST HTTP bare", call: () => unwrap(bare.ping.$get()) },
      { name: "REST HTTP token", call: () => unwrap(token.ping.$get()) },
      { name: "REST HTTPS token", call: () => unwrap(tokenTls.ping.$get()) },
    ],
    { calls, ops: calls * 2, progress },
  );
  return [...nats, ...rest];
}

/** Records/s of `records` 100-byte messages through one subject to one subscriber. */
async function publishRate(pub: NatsConnection, sub: NatsConnection, records: number) {
  const subject = `${subjects.cluster(CLUSTER)}.data.bench.0.0.0`;
  const payload = new Uint8Array(100);
  const received = new Promise<void>((resolve) => {
    let n = 0;
    sub.subscribe(subject, {
      callback: () => {
        if (++n === records) resolve();
      },
    });
  });
  await sub.flush();
  const t0 = performance.now();
  for (let i = 0; i < records; i++) {
    pub.publish(subject, payload);
    if (i % 1000 === 999) await pub.flush();
  }
  await received;
  return records / ((performance.now() - t0) / 1000);
}

async function dataPlane(s: Servers, args: string[], teardowns: (() => unknown)[]) {
  const records = numberFlag(args, "--records", 200_000);
  const open = [await connect({ servers: s.open.url }), await connect({ servers: s.open.url })];
  teardowns.push(() => Promise.all(open.map((nc) => nc.close())));
  const users = [await s.as("taskmanager"), await s.as("taskmanager")];
  const tls = [await s.as("taskmanager", true), await s.as("taskmanager", true)];
  const rates = { open: [] as number[], users: [] as number[], tls: [] as number[] };
  for (let round = 0; round < 3; round++) {
    progress(`data plane round ${round + 1}/3`);
    rates.open.push(await publishRate(open[0]!, open[1]!, records));
    rates.users.push(await publishRate(users[0]!, users[1]!, records));
    rates.tls.push(await publishRate(tls[0]!, tls[1]!, records));
  }
  const best = (xs: number[]) => Math.max(...xs);
  return [
    { name: "data plane open", value: best(rates.open), unit: "records/s" as const },
    {
      name: "data plane users",
      value: best(rates.users),
      unit: "records/s" as const,
      baseline: "data plane open",
    },
    {
      name: "data plane users+TLS",
      value: best(rates.tls),
      unit: "records/s" as const,
      baseline: "data plane open",
    },
  ];
}

async function submit(s: Servers, args: string[], teardowns: (() => unknown)[]) {
  const jobs = numberFlag(args, "--jobs", 40);
  const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };
  type Mode = "open" | "authenticated" | "sandboxed";
  const timed = async (mode: Mode) => {
    progress(`cluster of processes, ${mode}`);
    const secured = mode !== "open";
    const nats = secured ? s.secured : s.open;
    const as = (user: NatsUser): Record<string, string> =>
      secured
        ? {
            FLOTILLA_NATS_NKEY_FILE: join(s.credentials, nkeyFileOf(user)),
            FLOTILLA_NATS_INBOX_PREFIX: `_INBOX_${user}`,
          }
        : {};
    const cluster = await clusterFor(t, nats, {
      roles: [],
      env: {
        FLOTILLA_CLUSTER_ID: CLUSTER,
        ...(secured ? {} : { FLOTILLA_REST_AUTHENTICATION: "none" }),
        // The graph sandbox and job processes are processes per job: measured on their own.
        ...(mode === "sandboxed"
          ? {}
          : {
              FLOTILLA_DISPATCHER_GRAPH_SANDBOX: "none",
              FLOTILLA_TASKMANAGER_JOB_PROCESS: "none",
            }),
      },
      ready: async () => {},
    });
    const procs = [
      cluster.spawn("master", as("master")),
      cluster.spawn("taskmanager", as("taskmanager")),
      cluster.spawn("taskmanager", as("taskmanager")),
    ];
    await cluster.waitFor("2 TaskManagers", async () =>
      (await cluster.overview().catch(() => undefined))?.taskmanagers === 2 ? true : undefined,
    );
    const result = await timeJobs(cluster, jobs);
    // Submissions a moment apart: the sandbox's warm spare is ready for each.
    const spaced = await timeJobs(cluster, Math.min(jobs, 20), { pauseMs: 500 });
    for (const p of procs) p.kill("SIGKILL");
    return { ...result, spacedToRunning: spaced.toRunning };
  };
  const open = await timed("open");
  const authenticated = await timed("authenticated");
  const sandboxed = await timed("sandboxed");
  const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return [
    { name: "submit->RUNNING p50 open", value: p50(open.toRunning), unit: "ms" as const },
    {
      name: "submit->RUNNING p50 authenticated",
      value: p50(authenticated.toRunning),
      unit: "ms" as const,
      baseline: "submit->RUNNING p50 open",
    },
    {
      name: "submit->RUNNING p50 authenticated + graph sandbox + job processes",
      value: p50(sandboxed.toRunning),
      unit: "ms" as const,
      baseline: "submit->RUNNING p50 open",
    },
    {
      name: "submit->RUNNING p50 open, 0.5 s apart",
      value: p50(open.spacedToRunning),
      unit: "ms" as const,
    },
    {
      name: "submit->RUNNING p50 authenticated + graph sandbox + job processes, 0.5 s apart",
      value: p50(sandboxed.spacedToRunning),
      unit: "ms" as const,
      baseline: "submit->RUNNING p50 open, 0.5 s apart",
    },
    { name: "sustained jobs/s open", value: open.jobsPerSecond, unit: "ops/s" as const },
    {
      name: "sustained jobs/s authenticated",
      value: authenticated.jobsPerSecond,
      unit: "ops/s" as const,
      baseline: "sustained jobs/s open",
    },
    {
      name: "sustained jobs/s authenticated + graph sandbox + job processes",
      value: sandboxed.jobsPerSecond,
      unit: "ops/s" as const,
      baseline: "sustained jobs/s open",
    },
  ];
}

const SECTIONS = { rpc, "data-plane": dataPlane, submit } as const;

export async function run(args: string[]): Promise<BenchResult[]> {
  const at = args.indexOf("--section");
  const chosen = at >= 0 ? [args[at + 1] as keyof typeof SECTIONS] : Object.keys(SECTIONS);
  for (const name of chosen)
    if (!(name in SECTIONS))
      throw new Error(`unknown --section ${name}: choose ${Object.keys(SECTIONS).join(", ")}`);
  const teardowns: (() => unknown)[] = [];
  try {
    const s = await servers(teardowns);
    const results: BenchResult[] = [];
    for (const name of chosen as (keyof typeof SECTIONS)[]) {
      progress(`section ${name}`);
      results.push(...(await SECTIONS[name](s, args, teardowns)));
    }
    return results;
  } finally {
    for (const fn of teardowns.reverse()) await Promise.resolve(fn()).catch(() => {});
  }
}
