/**
 * Driving a compose layout from a test or benchmark: `docker compose` (v2) or `docker-compose`
 * (v1), one project per run with its own NATS port and cluster id, the project's containers by
 * label, a node's /healthz from inside its container, and the cluster's REST API over NATS (the
 * only published port of the elastic layout).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ConnectionOptions,
  connect,
  type NatsConnection,
  nkeyAuthenticator,
} from "@nats-io/transport-node";
import type { Test } from "tap";
import { subjects } from "../../components/core/mod.ts";
import { natsTransport, type Transport } from "../../components/rpc/mod.ts";
import {
  ensureClusterSecrets,
  inboxPrefixOf,
  type NatsUser,
  nkeyFileOf,
} from "../../components/security/mod.ts";
import { flotilla as flotillaCli, ROOT } from "./cli.ts";
import { docker } from "./docker.ts";
import { onProcessEnd } from "./nats.ts";
import { type DispatcherRest, dispatcherRest, type RestCall, restCall } from "./rest.ts";
import { authorized, TEST_TOKEN } from "./rest_token.ts";

export interface ComposeResult {
  code: number | null;
  output: string;
}

let detected: Promise<[string, string[]]> | undefined;

/** `docker compose` (v2) where the docker CLI has it, else `docker-compose` (v1). */
export function composeCommand(): Promise<[string, string[]]> {
  detected ??= new Promise((resolve) => {
    const probe = spawn("docker", ["compose", "version"], { stdio: "ignore" });
    probe.once("error", () => resolve(["docker-compose", []]));
    probe.once("exit", (code) =>
      resolve(code === 0 ? ["docker", ["compose"]] : ["docker-compose", []]),
    );
  });
  return detected;
}

export interface ComposeProjectOptions {
  /** The layout, relative to the repository. */
  file: string;
  project: string;
  /** What the compose file reads (images, ports, timings). */
  env: Record<string, string>;
}

export interface ComposeProject {
  readonly project: string;
  /** Its FLOTILLA_CREDENTIALS_DIR: REST tokens (the admin one is the test token), NATS users. */
  readonly credentials: string;
  /** The project's default network (`<project>_default`). */
  readonly network: string;
  compose(...args: string[]): Promise<ComposeResult>;
  /** The project's container ids (running or not), optionally filtered (`status=running`). */
  ids(...filters: string[]): Promise<string[]>;
  /** The running containers of one service. */
  running(service: string): Promise<string[]>;
  /** `down -v --remove-orphans`, then what is left of the project (ids, networks, volumes). */
  down(): Promise<{ result: ComposeResult; left: string[] }>;
}

/**
 * A project's credentials dir (FLOTILLA_CREDENTIALS_DIR): the secrets `flotilla cluster secrets`
 * makes, its admin token the test token (so `authorized` transports and CLI runs get in).
 */
export function testCredentials(project: string, clusterId = "default"): string {
  const dir = join(CREDENTIALS_ROOT, project);
  const { files } = ensureClusterSecrets(dir, { clusterId });
  writeFileSync(files["rest-token"]!, `${TEST_TOKEN}\n`, { mode: 0o644 });
  return dir;
}
const CREDENTIALS_ROOT = mkdtempSync(join(tmpdir(), "flotilla-credentials-"));
onProcessEnd(() => rmSync(CREDENTIALS_ROOT, { recursive: true, force: true }));

/** The ids of compose project `project`'s containers (stopped ones too), narrowed by `filters`. */
export async function projectContainers(project: string, ...filters: string[]): Promise<string[]> {
  const listed = await docker([
    "ps",
    "-aq",
    "--no-trunc",
    "--filter",
    `label=com.docker.compose.project=${project}`,
    ...filters.flatMap((f) => ["--filter", f]),
  ]);
  return listed.stdout.split("\n").filter(Boolean);
}

/**
 * Asserts that no TLS private key `flotilla cluster secrets --tls` made in `credentials` shows in
 * `docker inspect` of the containers `ids` (at least `min` of them: `what`).
 */
export async function noTlsKeyInInspect(
  t: Test,
  credentials: string,
  ids: string[],
  { min, what }: { min: number; what: string },
): Promise<void> {
  const keys = readdirSync(credentials)
    .filter((f) => f.startsWith("tls-") && f.endsWith(".key"))
    .map((f) => readFileSync(join(credentials, f), "utf8").split("\n")[1]!);
  t.ok(keys.length >= 3, "the CA's, the servers' and the users' keys");
  t.ok(ids.length >= min, what);
  for (const id of ids) {
    const inspected = (await docker(["inspect", id])).stdout;
    for (const key of keys) t.notMatch(inspected, key, `${id.slice(0, 12)}: no TLS key`);
  }
}

export function composeProject({
  file,
  project,
  env: given,
}: ComposeProjectOptions): ComposeProject {
  const env = {
    FLOTILLA_CREDENTIALS_DIR: testCredentials(project, given.FLOTILLA_CLUSTER_ID),
    ...given,
  };
  const compose = async (...args: string[]): Promise<ComposeResult> => {
    const [cmd, pre] = await composeCommand();
    return new Promise((resolve) => {
      const child = spawn(cmd, [...pre, "-f", file, "-p", project, ...args], {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (c: Buffer) => (output += c));
      child.stderr.on("data", (c: Buffer) => (output += c));
      child.once("error", (err) => resolve({ code: -1, output: err.message }));
      child.once("exit", (code) => resolve({ code, output }));
    });
  };
  const ids = (...filters: string[]) => projectContainers(project, ...filters);
  return {
    project,
    credentials: env.FLOTILLA_CREDENTIALS_DIR,
    network: `${project}_default`,
    compose,
    ids,
    running: (service) => ids(`label=com.docker.compose.service=${service}`, "status=running"),
    async down() {
      // A paused container cannot be stopped: unpause whatever a failed test left paused.
      const paused = await ids("status=paused");
      if (paused.length) await docker(["unpause", ...paused]);
      const result = await compose("down", "-v", "--remove-orphans", "-t", "2");
      const networks = await docker(["network", "ls", "-q", "--filter", `name=${project}`]);
      const volumes = await docker(["volume", "ls", "-q", "--filter", `name=${project}`]);
      const left = [
        ...(await ids()),
        ...networks.stdout.split("\n").filter(Boolean),
        ...volumes.stdout.split("\n").filter(Boolean),
      ];
      return { result, left };
    },
  };
}

/**
 * GET on a node's own port 8081, from inside its container (with the token mounted there) (elastic nodes publish no port): the
 * parsed body, or undefined when the node did not answer with JSON.
 */
export async function inside(id: string, path: string, timeoutMs = 15_000): Promise<unknown> {
  // With the admin token the container has as a compose secret, for the routes that need one.
  const script = `const token = require("fs").readFileSync("/run/secrets/rest-token", "utf8").trim(); fetch("http://127.0.0.1:8081${path}", { headers: { authorization: "Bearer " + token } }).then((r) => r.text()).then(console.log, () => process.exit(1))`;
  const r = await docker(["exec", id, "node", "-e", script], { timeoutMs });
  if (r.code !== 0) return undefined;
  try {
    return JSON.parse(r.stdout);
  } catch {
    return undefined;
  }
}

/** The cluster's REST API over NATS, typed by the Dispatcher's contract. */
export interface NatsRest extends DispatcherRest {
  readonly nc: NatsConnection;
  /** The Dispatcher's subject (`subjects.dispatcher(clusterId)`), for a client of its own. */
  readonly transport: Transport;
  /** One raw call (one attempt); throws when no Dispatcher answers within the deadline. */
  call: RestCall;
  close(): Promise<void>;
}

/**
 * The cluster's REST API over NATS, as `flotilla --cluster nats://...` reaches it; each call has
 * `timeoutMs`.
 */
export async function natsRest(
  url: string,
  clusterId: string,
  {
    timeoutMs = 2000,
    credentials,
  }: {
    timeoutMs?: number;
    /** A credentials dir: connect as its `cli` user, as the CLI does. */
    credentials?: string;
  } = {},
): Promise<NatsRest> {
  const nc = await connect({
    ...(credentials ? natsUserOptions(credentials, "cli") : {}),
    servers: url,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 200,
    name: "flotilla-test",
  });
  const transport = authorized(natsTransport(nc, subjects.dispatcher(clusterId)));
  return {
    ...dispatcherRest(transport, { timeoutMs }),
    nc,
    transport,
    call: restCall(transport, { timeoutMs }),
    close: () => nc.close(),
  };
}

/** How a client connects as `user` of a credentials dir (its nkey seed, its own reply inbox). */
export function natsUserOptions(
  credentials: string,
  user: NatsUser,
): Pick<ConnectionOptions, "authenticator" | "inboxPrefix"> {
  const seed = readFileSync(join(credentials, nkeyFileOf(user)), "utf8").trim();
  return {
    authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)),
    inboxPrefix: inboxPrefixOf(user),
  };
}

/**
 * A session-layout stack of its own for a test, driven as a user does (`flotilla cluster <action>
 * --layout session --project <project>`), its credentials made for it: the environment the CLI
 * runs with, and `session(action)`; `down` at teardown.
 */
export function sessionStack(
  t: { teardown(fn: () => unknown): void },
  name: string,
  port: number,
  composeEnv: Record<string, string>,
) {
  const project = `flotilla-${name}-${port}`;
  const clusterId = `${name[0]}${port}`;
  const credentials = testCredentials(project, clusterId);
  const env = {
    ...composeEnv,
    FLOTILLA_CREDENTIALS_DIR: credentials,
    FLOTILLA_REST_PORT: String(port),
    FLOTILLA_CLUSTER_ID: clusterId,
    FLOTILLA_NETWORK: project,
    FLOTILLA_LOG_LEVEL: "warn",
  };
  const session = (action: string, ...more: string[]) =>
    flotillaCli(["cluster", action, "--layout", "session", "--project", project, ...more], env);
  t.teardown(() => session("down"));
  return { project, clusterId, credentials, env, session };
}
