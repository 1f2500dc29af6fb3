/**
 * `npm run bench -- rpc`: what Hono over NATS costs next to raw nats.js request/reply, and how
 * the in-process and HTTP transports compare, all measured against raw NATS in the same run.
 * The server side runs in a child process (`rpc_server.ts`); this process is the client.
 *
 * Then the data plane (`channel.ts`) and heartbeat loss detection (`heartbeat.ts`) on the same
 * nats-server.
 *
 * Flags: --section request-reply|data-plane|heartbeat, --calls N (sequential calls per case), --warmup N,
 * --ops N (calls per case in flight together), --in-flight N, --rounds N.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  createClient,
  DEADLINE_HEADER,
  encodeRequest,
  httpTransport,
  localTransport,
  natsTransport,
} from "../../components/rpc/mod.ts";
import { type EchoBlock, echoBlock } from "../support/echo_block.ts";
import { startNats } from "../support/nats.ts";
import { measureChannel } from "./channel.ts";
import { measureHeartbeat } from "./heartbeat.ts";
import { type Case, measureCases, numberFlag } from "./measure.ts";
import type { BenchResult } from "./report.ts";
import type { RpcServerReady } from "./rpc_server.ts";

/** What every section of this benchmark gets: one nats-server shared by all of them. */
export interface RpcBenchContext {
  natsUrl: string;
  args: string[];
  progress: (line: string) => void;
}

export type RpcBenchSection = (context: RpcBenchContext) => Promise<BenchResult[]>;

/** The raw request/reply result every Hono-over-NATS result is compared to. */
export const RAW_NATS = "nats raw request";

const progress = (line: string) => process.stderr.write(`[bench rpc] ${line}\n`);

interface RpcServer {
  ready: RpcServerReady;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** Starts `rpc_server.ts` in its own Node process and waits for its ready line. */
async function startServerProcess(natsUrl: string): Promise<RpcServer> {
  const script = fileURLToPath(new URL("./rpc_server.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), script, natsUrl], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  void exited.then(() => children.delete(child));
  const stop = async () => {
    child.stdin?.end();
    const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(killer);
  };
  try {
    const lines = createInterface({ input: child.stdout! });
    const ready = await new Promise<RpcServerReady>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("rpc_server.ts not ready within 20 s")),
        20_000,
      );
      lines.once("line", (line) => {
        clearTimeout(timer);
        resolve(JSON.parse(line) as RpcServerReady);
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`rpc_server.ts exited before it was ready (code ${code}, ${signal})`));
      });
      child.once("error", reject);
    });
    lines.close();
    child.stdout?.resume();
    return { ready, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function expectOk(res: { ok: boolean; status: number }, what: string): void {
  if (!res.ok) throw new Error(`${what} answered ${res.status}`);
}

/** Raw nats.js, the typed client over NATS, in-process, and HTTP. */
export const measureRequestReply: RpcBenchSection = async ({ natsUrl, args, progress }) => {
  const server = await startServerProcess(natsUrl);
  let nc: NatsConnection | undefined;
  let untraced: NatsConnection | undefined;
  try {
    const { rawSubject, blockSubject, httpUrl } = server.ready;
    nc = await connect({ servers: natsUrl, name: "bench-rpc-client" });
    untraced = await connect({ servers: natsUrl, name: "bench-rpc-untraced", noAsyncTraces: true });
    const conn = nc;
    const untracedConn = untraced;
    const overNats = createClient<EchoBlock>(natsTransport(conn, blockSubject));
    const overHttp = createClient<EchoBlock>(httpTransport(httpUrl));
    const localApp = echoBlock();
    const local = createClient<EchoBlock>(localTransport(localApp));
    const item = { id: "bench-1", name: "a small item", tags: ["bench"] };
    // The baseline sends what the typed ping sends, so the difference is the framework alone.
    const payload = encodeRequest({
      method: "GET",
      path: "/ping",
      headers: { accept: "application/cbor", [DEADLINE_HEADER]: String(Date.now()) },
    });
    progress(`raw payload ${payload.byteLength} bytes; nats ${natsUrl}, http ${httpUrl}`);

    const cases: Case[] = [
      {
        name: RAW_NATS,
        call: async () => {
          const msg = await conn.request(rawSubject, payload, { timeout: 5000 });
          if (msg.data.byteLength !== payload.byteLength) throw new Error("bad raw echo");
        },
      },
      {
        // natsTransport skips nats.js's per-request stack capture; this shows what that is worth.
        name: "nats raw request, noAsyncTraces",
        call: async () => {
          const msg = await untracedConn.request(rawSubject, payload, { timeout: 5000 });
          if (msg.data.byteLength !== payload.byteLength) throw new Error("bad raw echo");
        },
      },
      {
        name: "nats hono GET /ping",
        call: async () => expectOk(await overNats.ping.$get(), "GET /ping over NATS"),
      },
      {
        name: "nats hono POST /items",
        call: async () => expectOk(await overNats.items.$post({ json: item }), "POST /items"),
      },
      {
        name: "in-process app.request",
        call: async () => expectOk(await localApp.request("/ping"), "app.request"),
      },
      {
        name: "in-process localTransport",
        call: async () => expectOk(await local.ping.$get(), "GET /ping in-process"),
      },
      {
        name: "http hono GET /ping",
        call: async () => expectOk(await overHttp.ping.$get(), "GET /ping over HTTP"),
      },
      {
        name: "http fetch GET /ping",
        call: async () => {
          const res = await fetch(`${httpUrl}/ping`);
          await res.arrayBuffer();
          expectOk(res, "fetch /ping");
        },
      },
    ];
    return await measureCases(cases, {
      calls: numberFlag(args, "--calls", 5000),
      warmup: numberFlag(args, "--warmup", 1000),
      ops: numberFlag(args, "--ops", 20_000),
      inFlight: numberFlag(args, "--in-flight", 64),
      rounds: numberFlag(args, "--rounds", 5),
      baseline: RAW_NATS,
      progress,
    });
  } finally {
    await nc?.close();
    await untraced?.close();
    await server.stop();
  }
};

const measureDataPlane: RpcBenchSection = ({ natsUrl, progress }) =>
  measureChannel({ natsUrl, progress });

/**
 * The sections of this benchmark, run in order against one nats-server; `--section <name>` runs
 * one of them. A new section is appended here and receives the same context.
 */
export const sections: { name: string; measure: RpcBenchSection }[] = [
  { name: "request-reply", measure: measureRequestReply },
  { name: "data-plane", measure: measureDataPlane },
  { name: "heartbeat", measure: measureHeartbeat },
];

function chosenSections(args: string[]): typeof sections {
  const at = args.indexOf("--section");
  if (at < 0) return sections;
  const chosen = sections.filter((s) => s.name === args[at + 1]);
  if (chosen.length === 0) {
    throw new Error(
      `unknown --section ${JSON.stringify(args[at + 1] ?? "")}: choose one of ${sections.map((s) => s.name).join(", ")}`,
    );
  }
  return chosen;
}

export async function run(args: string[]): Promise<BenchResult[]> {
  const chosen = chosenSections(args);
  const nats = await startNats({ jetstream: false });
  try {
    const results: BenchResult[] = [];
    for (const { name, measure } of chosen) {
      progress(`section ${name}`);
      results.push(...(await measure({ natsUrl: nats.url, args, progress })));
    }
    return results;
  } finally {
    await nats.cleanup();
  }
}
