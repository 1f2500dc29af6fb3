/**
 * A fault cluster of containers: compose/elastic.yml with the project's images (N identical
 * `auto` nodes and NATS, one compose project per scenario), driven like the process cluster
 * (cluster.ts) so that runScenario and Timeline check it unchanged. The REST API is reached over
 * NATS (the only published port); every node's log is followed (`docker logs -f`) for the
 * leadership check and for what each node acts as. Faults are Docker's: `docker pause` /
 * `unpause` (recorded as SIGSTOP / SIGCONT), `docker kill`, `docker network disconnect` /
 * `connect`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import {
  type ComposeProject,
  composeProject,
  natsRest,
  natsUserOptions,
} from "../../support/compose.ts";
import { docker, ensureDocker } from "../../support/docker.ts";
import { freePort, type NatsServer } from "../../support/nats.ts";
import { until } from "../../support/poll.ts";
import { dispatcherRest } from "../../support/rest.ts";
import { type FaultCluster, leaderProbe, type Signal, submitFaultJob } from "./cluster.ts";
import { type LogLine, parseLine } from "./leaders.ts";

interface Teardown {
  teardown(fn: () => unknown): void;
}

export type Acting = "starting" | "master" | "taskmanager" | "switching" | "dead";

/** One `node` container of the project, as its own log lines describe it. */
export interface Node {
  /** `node-<n>`, after compose's container number: the name in lines, signals and faults. */
  readonly name: string;
  readonly id: string;
  holder?: string;
  acting: Acting;
  /** The TaskManager id while it acts as a TaskManager. */
  tm?: string;
  /** Off the project network (`docker network disconnect`). */
  disconnected: boolean;
  /** `docker logs -f` of the container. */
  readonly follower: ChildProcess;
}

export interface ContainerClusterOptions {
  /** `auto` nodes at the start: one becomes master, the others TaskManagers. @default 3 */
  nodes?: number;
  /** More compose variables (timings). */
  env?: Record<string, string>;
}

/**
 * The process cluster's interface over containers. `tms` maps each TaskManager id to the log
 * follower of the node that runs it (there is no TaskManager process on this host);
 * `masters` is empty (which node is master changes: `master()`); `startTaskManager` and
 * `startMaster` throw (a node is added with `scale`).
 */
export interface ContainerCluster extends FaultCluster {
  readonly project: ComposeProject;
  readonly nodes: Map<string, Node>;
  /** The node acting as master now (per its log), once exactly one does. */
  master(timeoutMs?: number): Promise<Node>;
  /** Nodes acting as TaskManager now. */
  taskManagerNodes(): Node[];
  /** What every running node's /healthz says it acts as, by node name (from inside it). */
  healthz(): Promise<Record<string, string | undefined>>;
  disconnect(name: string): Promise<void>;
  connect(name: string): Promise<void>;
  /** `up -d --scale node=<n>`: new nodes are followed as they appear. */
  scale(n: number): Promise<void>;
}

const ACTING: Record<string, Acting> = {
  "acting as master (Dispatcher + ResourceManager)": "master",
  "acting as TaskManager": "taskmanager",
  "no longer the master: stopping the Dispatcher and ResourceManager": "switching",
  "elected master: stopping this process's TaskManager first": "switching",
};

export async function containerCluster(
  t: Teardown,
  { nodes: nodeCount = 3, env: extra = {} }: ContainerClusterOptions = {},
): Promise<ContainerCluster> {
  const d = await ensureDocker();
  const port = await freePort();
  const clusterId = `c${port}`;
  const env: Record<string, string> = {
    ...d.composeEnv,
    FLOTILLA_NATS_PORT: String(port),
    FLOTILLA_CLUSTER_ID: clusterId,
    FLOTILLA_HA_LEASE: "2s",
    FLOTILLA_HEARTBEAT_TIMEOUT: "3s",
    FLOTILLA_LOG_LEVEL: "info",
    ...extra,
  };
  const project = composeProject({
    file: "compose/elastic.yml",
    project: `flotilla-faults-${port}`,
    env,
  });
  const nodes = new Map<string, Node>();
  const lines: LogLine[] = [];
  const signals: FaultCluster["signals"] = [];
  const tms = new Map<string, ChildProcess>();
  t.teardown(async () => {
    for (const node of nodes.values()) node.follower.kill();
    const { result, left } = await project.down();
    if (result.code !== 0 || left.length)
      process.stderr.write(`compose down of ${project.project}: ${result.output} left ${left}\n`);
  });

  const onLine = (node: Node, text: string) => {
    const line = parseLine(text, node.name);
    if (!line) return;
    lines.push(line);
    if (typeof line.raw.holder === "string") node.holder ??= line.raw.holder;
    const acting = ACTING[line.msg];
    if (!acting) return;
    if (node.tm && acting !== "taskmanager") tms.delete(node.tm);
    node.acting = acting;
    if (acting === "taskmanager" && typeof line.raw.tm === "string") {
      node.tm = line.raw.tm;
      tms.set(node.tm, node.follower);
    }
  };
  /** Follows the log of every node container not followed yet. */
  const follow = async () => {
    for (const id of await project.ids("label=com.docker.compose.service=node")) {
      if ([...nodes.values()].some((n) => n.id === id)) continue;
      const number = (
        await docker([
          "inspect",
          "-f",
          '{{index .Config.Labels "com.docker.compose.container-number"}}',
          id,
        ])
      ).stdout.trim();
      const follower = spawn("docker", ["logs", "-f", id], { stdio: ["ignore", "pipe", "pipe"] });
      const node: Node = {
        name: `node-${number}`,
        id,
        acting: "starting",
        disconnected: false,
        follower,
      };
      nodes.set(node.name, node);
      for (const stream of [follower.stdout, follower.stderr])
        createInterface({ input: stream }).on("line", (text) => onLine(node, text));
    }
  };

  const nodeNamed = (name: string) => {
    const node = nodes.get(name);
    if (!node) throw new Error(`no node ${name} (nodes: ${[...nodes.keys()].join(", ")})`);
    return node;
  };
  const natsContainer = async () => (await project.running("nats"))[0] ?? "";
  const nats: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    // The probes read leases and ask who answers, as the master's user may.
    clientOptions: natsUserOptions(project.credentials, "master"),
    port,
    storeDir: "(the nats-data volume)",
    pid: () => {
      throw new Error("the NATS of a container cluster has no pid on this host");
    },
    stop: async () => void (await docker(["stop", await natsContainer()])),
    kill: async () => void (await docker(["kill", await natsContainer()])),
    start: async () => void (await project.compose("start", "nats")),
    restart: async () => void (await project.compose("restart", "nats")),
    cleanup: async () => {},
  };

  const up = await project.compose("up", "-d", "--scale", `node=${nodeCount}`);
  if (up.code !== 0) throw new Error(`compose up failed: ${up.output}`);
  await follow();
  const rest = await natsRest(nats.url, clusterId, { credentials: project.credentials });
  t.teardown(() => rest.close());
  const probe = await leaderProbe(t, nats, clusterId);

  const waitFor: FaultCluster["waitFor"] = (what, probeFn, timeoutMs = 20_000) =>
    until(probeFn, what, { timeoutMs, intervalMs: 100 });

  const cluster: ContainerCluster = {
    ...dispatcherRest(rest.transport),
    project,
    nodes,
    nats,
    clusterId,
    masters: [],
    tms,
    lines,
    signals,
    startTaskManager() {
      throw new Error("a container cluster adds TaskManagers with scale(n)");
    },
    startMaster() {
      return Promise.reject(new Error("a container cluster has no master processes to start"));
    },
    async signal(name, signal: Signal) {
      const node = nodeNamed(name);
      const command = { SIGKILL: "kill", SIGSTOP: "pause", SIGCONT: "unpause", SIGTERM: "stop" }[
        signal
      ];
      // The docker command takes ~100 ms to take effect somewhere in between: a node is
      // counted frozen or dead only once the command returned, and awake from its start.
      const started = Date.now();
      const r = await docker([command, node.id]);
      if (r.code !== 0) throw new Error(`docker ${command} ${name}: ${r.stderr.trim()}`);
      signals.push({ at: signal === "SIGCONT" ? started : Date.now(), proc: name, signal });
      if (signal === "SIGKILL" || signal === "SIGTERM") {
        if (node.tm) tms.delete(node.tm);
        node.acting = "dead";
      }
    },
    async disconnect(name) {
      const node = nodeNamed(name);
      const r = await docker(["network", "disconnect", project.network, node.id]);
      if (r.code !== 0) throw new Error(`docker network disconnect ${name}: ${r.stderr.trim()}`);
      node.disconnected = true;
    },
    async connect(name) {
      const node = nodeNamed(name);
      const r = await docker(["network", "connect", project.network, node.id]);
      if (r.code !== 0) throw new Error(`docker network connect ${name}: ${r.stderr.trim()}`);
      node.disconnected = false;
    },
    async scale(n) {
      const r = await project.compose("up", "-d", "--no-recreate", "--scale", `node=${n}`);
      if (r.code !== 0) throw new Error(`compose up --scale node=${n}: ${r.output}`);
      await follow();
    },
    async master(timeoutMs = 30_000) {
      // What a node acts as comes from auto_role.ts's "acting as ..." lines (ACTING above).
      return await waitFor(
        `exactly one node acting as master (per the nodes' log lines: ${[...nodes.values()].map((n) => `${n.name} ${n.acting}`).join(", ")} when asked)`,
        async () => {
          const masters = [...nodes.values()].filter((n) => n.acting === "master");
          return masters.length === 1 ? masters[0] : undefined;
        },
        timeoutMs,
      );
    },
    taskManagerNodes: () => [...nodes.values()].filter((n) => n.acting === "taskmanager"),
    async healthz() {
      const running = await project.running("node");
      const named = [...nodes.values()].filter((n) => running.includes(n.id));
      const seen = await Promise.all(
        named.map(async (n) => {
          const r = await docker(
            [
              "exec",
              n.id,
              "node",
              "-e",
              `fetch("http://127.0.0.1:8081/healthz").then((r) => r.json()).then((b) => console.log(b.acting), () => process.exit(1))`,
            ],
            { timeoutMs: 15_000 },
          );
          return r.code === 0 ? r.stdout.trim() : undefined;
        }),
      );
      return Object.fromEntries(named.map((n, i) => [n.name, seen[i]]));
    },
    call: rest.call,
    async leader(role = "dispatcher") {
      const holder = (await probe.leader(role))?.holder;
      return [...nodes.values()].find((n) => n.holder === holder)?.name ?? holder;
    },
    lease: (role) => probe.leader(role),
    ha: probe.ha,
    storage: () => probe.storage(),
    // Over NATS, with room for a busy machine.
    submit: (args, parallelism) =>
      submitFaultJob(dispatcherRest(rest.transport, { timeoutMs: 30_000 }), args, parallelism),
    waitFor,
    responders: (subject, path, waitMs) => probe.responders(subject, path, waitMs),
  };

  const tmsWanted = nodeCount - 1;
  await cluster.master(60_000);
  await waitFor(
    `${tmsWanted} TaskManagers registered`,
    async () => {
      if (cluster.taskManagerNodes().length !== tmsWanted) return undefined;
      return (await cluster.overview()).taskmanagers === tmsWanted ? true : undefined;
    },
    60_000,
  );
  return cluster;
}
