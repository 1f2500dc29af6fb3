/**
 * A real nats-server per test: a free port, its own JetStream directory, and stop / kill /
 * restart by pid. Every server started here is killed when the process exits, whatever happens.
 * Runtime-neutral (node: modules only), so the Deno tests use it too.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConnectionOptions } from "@nats-io/transport-node";
import { until } from "./poll.ts";

export interface NatsServerOptions {
  /** Largest message the server accepts, in bytes. @default nats-server's 1 MiB */
  maxPayload?: number;
  /** @default true */
  jetstream?: boolean;
  /** @default "nats-server" on PATH, or env NATS_SERVER_BIN */
  binary?: string;
  /** The users' configuration (`natsAuthConfig`: an `accounts` block); anonymous clients refused. */
  authorization?: string;
  /** What `connectFor` connects with (a user of `authorization`). */
  clientOptions?: NatsServer["clientOptions"];
  /** TLS only, with this certificate; `verify`: clients need a certificate the CA signed. */
  tls?: { cert: string; key: string; ca: string; verify?: boolean };
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** The current process id (changes on restart). */
  pid(): number;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: the crash case. */
  kill(): Promise<void>;
  /** Start again on the same port and store (after stop or kill). */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
  /** Stop and remove the store directory. Safe to call twice. */
  cleanup(): Promise<void>;
  /** What a test's client connects with when the server wants credentials (a NATS user's). */
  readonly clientOptions?: Pick<ConnectionOptions, "authenticator" | "inboxPrefix" | "tls">;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Runs `fn` when this test process ends: normally, or killed by tap's timeout (SIGTERM) or ^C,
 * which would otherwise leave the servers and role processes it started running.
 */
export function onProcessEnd(fn: () => void): void {
  process.on("exit", fn);
  if (!signalsHooked) {
    signalsHooked = true;
    for (const [signal, code] of [
      ["SIGTERM", 143],
      ["SIGINT", 130],
    ] as const)
      process.once(signal, () => process.exit(code));
  }
}
let signalsHooked = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  onProcessEnd(() => {
    for (const child of running) child.kill("SIGKILL");
  });
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function canConnect(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = new Socket();
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.connect(port, "127.0.0.1");
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

export async function startNats(options: NatsServerOptions = {}): Promise<NatsServer> {
  const { jetstream = true, maxPayload } = options;
  const binary = options.binary ?? process.env.NATS_SERVER_BIN ?? "nats-server";
  installExitHook();
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), "flotilla-nats-"));
  const conf = [`listen: "127.0.0.1:${port}"`];
  if (maxPayload !== undefined) conf.push(`max_payload: ${maxPayload}`);
  if (jetstream) conf.push(`jetstream { store_dir: "${join(storeDir, "js")}" }`);
  if (options.tls) {
    const { cert, key, ca, verify = false } = options.tls;
    conf.push(
      `tls { cert_file: "${cert}", key_file: "${key}", ca_file: "${ca}", verify: ${verify} }`,
    );
  }
  if (options.authorization) {
    writeFileSync(join(storeDir, "nats-auth.conf"), options.authorization);
    conf.push('include "nats-auth.conf"');
  }
  const confPath = join(storeDir, "nats.conf");
  writeFileSync(confPath, `${conf.join("\n")}\n`);

  let child: ChildProcess | undefined;
  let log = "";

  async function start(): Promise<void> {
    if (child && child.exitCode === null && child.signalCode === null) return;
    const proc = spawn(binary, ["-c", confPath], { stdio: ["ignore", "ignore", "pipe"] });
    child = proc;
    running.add(proc);
    proc.stderr?.on("data", (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
    });
    proc.once("exit", () => running.delete(proc));
    const spawnError = new Promise<never>((_, reject) =>
      proc.once("error", (err) => reject(new Error(`cannot start ${binary}: ${err.message}`))),
    );
    const exited = new Promise<never>((_, reject) =>
      proc.once("exit", () => reject(new Error(`nats-server exited at start: ${log}`))),
    );
    const listening = until(
      async () => proc.exitCode === null && (await canConnect(port)),
      `nats-server listening on ${port}`,
      { timeoutMs: 10_000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${log}`);
    });
    await Promise.race([listening, spawnError, exited]);
  }

  async function signal(sig: NodeJS.Signals): Promise<void> {
    if (!child) return;
    const proc = child;
    proc.kill(sig);
    await exited(proc);
  }

  await start();
  let cleaned = false;
  return {
    url: `${options.tls ? "tls" : "nats"}://127.0.0.1:${port}`,
    port,
    storeDir,
    ...(options.clientOptions ? { clientOptions: options.clientOptions } : {}),
    pid: () => child?.pid ?? -1,
    stop: () => signal("SIGTERM"),
    kill: () => signal("SIGKILL"),
    start,
    restart: async () => {
      await signal("SIGTERM");
      await start();
    },
    cleanup: async () => {
      if (cleaned) return;
      cleaned = true;
      await signal("SIGKILL");
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
