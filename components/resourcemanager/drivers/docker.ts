/**
 * The docker driver: one container per TaskManager the RM asks for, through the Docker Engine API.
 * The profile becomes the container's limits and the config environment the process driver gives a
 * child. `org.flotilla.*` labels let a new RM find its predecessor's containers: running ones are
 * adopted, the rest removed. Secrets (NATS credentials) are copied in as files before the start.
 * Every container is confined (docker_hardening.ts): no capabilities, read-only root, bounded pids.
 */
import {
  ErrorCode,
  FlotillaError,
  type Logger,
  newTaskManagerId,
  silentLogger,
  type TaskManagerId,
} from "../../core/mod.ts";
import { covers, describeProfile, isAny, profile as makeProfile } from "../profile.ts";
import type { ResourceDriver, ResourceProfile } from "../types.ts";
import {
  type DockerEngine,
  type DockerEngineOptions,
  demuxLogs,
  dockerEngine,
  type EventStream,
} from "./docker_engine.ts";
import {
  type ContainerConfinement,
  confinedHostConfig,
  fileDirectories,
  filesIn,
} from "./docker_hardening.ts";
import { explainRefusal } from "./docker_refusals.ts";
import { tooManyTaskManagers } from "./limits.ts";
import { archiveOfFiles, type ContainerFile } from "./tar.ts";
import { containerEnv } from "./taskmanager_env.ts";

export const DOCKER_LABELS = {
  cluster: "org.flotilla.cluster",
  role: "org.flotilla.role",
  tm: "org.flotilla.tm",
  managedBy: "org.flotilla.managed-by",
  profile: "org.flotilla.profile",
} as const;

export interface DockerDriverOptions extends DockerEngineOptions, ContainerConfinement {
  /** The cluster whose TaskManagers these are: labels, container names, leftovers. */
  clusterId: string;
  /** The TaskManager image; never pulled. @default "flotilla/taskmanager:latest" */
  image?: string;
  /** The network the containers join; it must reach NATS. @default the daemon's default bridge */
  network?: string;
  /**
   * Environment of every TaskManager (its config keys' env names: NATS url, cluster id, ...),
   * besides its id and profile. @default {}
   */
  env?: Record<string, string>;
  /**
   * Files copied into every TaskManager container before it starts, e.g. its NATS credentials:
   * never in its env or labels (what `docker inspect` shows). @default [] (mode: 0o400)
   */
  files?: ContainerFile[];
  /** Owner of `files` in the container: the images' `node` user. @default { uid: 1000, gid: 1000 } */
  filesOwner?: { uid: number; gid: number };
  /** The container's `Cmd` (after the image's entrypoint, if it has one). @default the image's */
  command?: string[];
  /** Who started the containers (`org.flotilla.managed-by`), e.g. the RM's instance. @default clusterId */
  managedBy?: string;
  /** What a TaskManager asked for with the ANY profile gets. @default 1 cpu, 1024 MB */
  defaultProfile?: ResourceProfile;
  /** The largest TaskManager the Docker host can run; bigger profiles are not startable. @default no limit */
  maxProfile?: ResourceProfile;
  /** Most TaskManager containers at once (adopted ones count). @default 16 */
  maxTaskManagers?: number;
  /** Seconds between the stop signal and SIGKILL (`POST /containers/<id>/stop?t=`). @default 5 */
  stopTimeoutS?: number;
  /** Called when a container exited on its own (crash, OOM kill); it is removed right after. */
  onExit?: (tm: TaskManagerContainer, exit: ContainerExit) => void;
  /** The Engine API client. @default dockerEngine({ socketPath, apiVersion, timeoutMs }) */
  engine?: DockerEngine;
  log?: Logger;
}

export interface TaskManagerContainer {
  tmId: TaskManagerId;
  containerId: string;
  name: string;
  profile: ResourceProfile;
  /** Found running at start (left by an earlier RM), not started by this driver. */
  adopted: boolean;
}

export interface ContainerExit {
  exitCode: number;
  oomKilled: boolean;
  /** The last lines the container wrote. */
  output: string;
}

export interface DockerDriver extends ResourceDriver {
  readonly kind: "docker";
  /** Resolves once leftovers were adopted or removed and exits are followed (retried on failure). */
  ready(): Promise<void>;
  /** The containers this driver owns now. */
  running(): TaskManagerContainer[];
  /** Stops and removes every container it owns. */
  stop(): Promise<void>;
}

interface ContainerSummary {
  Id: string;
  Names?: string[];
  State: string;
  Labels?: Record<string, string>;
}

interface ContainerState {
  State?: { ExitCode?: number; OOMKilled?: boolean };
}

function profileOfLabel(label: string | undefined): ResourceProfile {
  try {
    const p = JSON.parse(label ?? "") as ResourceProfile;
    return makeProfile(p.cpu, p.memoryMb, p.extended);
  } catch {
    return makeProfile(0, 0);
  }
}

export function dockerDriver({
  clusterId,
  image = "flotilla/taskmanager:latest",
  network,
  env = {},
  command,
  files = [],
  filesOwner,
  managedBy = clusterId,
  defaultProfile = makeProfile(1, 1024),
  maxProfile,
  maxTaskManagers = 16,
  stopTimeoutS = 5,
  pidsLimit,
  defaultMemoryMb,
  tmpfsMb,
  onExit,
  socketPath,
  apiVersion,
  timeoutMs,
  engine = dockerEngine({ socketPath, apiVersion, timeoutMs }),
  log = silentLogger,
}: DockerDriverOptions): DockerDriver {
  // Built once: a bad path fails here, not at each start. One volume (and archive) per directory.
  const fileArchives = fileDirectories(files).map((dir) => ({
    dir,
    tar: archiveOfFiles(filesIn(files, dir), filesOwner, dir),
  }));
  const owned = new Map<TaskManagerId, TaskManagerContainer>();
  let starting = 0;
  let stopped = false;
  let readiness: Promise<void> | undefined;
  let events: EventStream | undefined;
  let reconnect: ReturnType<typeof setTimeout> | undefined;
  const clusterFilter = JSON.stringify({
    label: [`${DOCKER_LABELS.cluster}=${clusterId}`, `${DOCKER_LABELS.role}=taskmanager`],
  });

  const listOurs = async () =>
    (
      await engine.call<ContainerSummary[]>("GET", "/containers/json", {
        query: { all: true, filters: clusterFilter },
      })
    ).body;

  async function remove(containerId: string): Promise<void> {
    await engine.call("DELETE", `/containers/${containerId}`, {
      query: { force: true, v: true },
      accept: [404],
    });
  }

  async function stopContainer(tm: TaskManagerContainer): Promise<void> {
    await engine.call("POST", `/containers/${tm.containerId}/stop`, {
      query: { t: stopTimeoutS },
      accept: [304, 404],
    });
    await remove(tm.containerId);
  }

  /** A container that exited without being asked: say why, remove it, tell `onExit`. */
  async function exited(tm: TaskManagerContainer): Promise<void> {
    if (owned.get(tm.tmId) !== tm) return;
    owned.delete(tm.tmId);
    const exit: ContainerExit = { exitCode: -1, oomKilled: false, output: "" };
    try {
      const { body } = await engine.call<ContainerState>(
        "GET",
        `/containers/${tm.containerId}/json`,
      );
      exit.exitCode = body.State?.ExitCode ?? -1;
      exit.oomKilled = body.State?.OOMKilled ?? false;
      const logs = await engine.raw(`/containers/${tm.containerId}/logs`, {
        stdout: true,
        stderr: true,
        tail: 20,
      });
      exit.output = demuxLogs(logs).trimEnd();
    } catch (err) {
      log.warn({ tmId: tm.tmId, err: (err as Error).message }, "exited container not inspected");
    }
    await remove(tm.containerId).catch((err: Error) =>
      log.warn({ tmId: tm.tmId, err: err.message }, "exited container not removed"),
    );
    log.warn(
      { tmId: tm.tmId, container: tm.name, ...exit },
      exit.oomKilled
        ? `TaskManager container was killed for exceeding its memory limit (${tm.profile.memoryMb} MB)`
        : "TaskManager container exited",
    );
    onExit?.(tm, exit);
  }

  /** Exits missed while the event stream was down. */
  async function sweep(): Promise<void> {
    const runningIds = new Set(
      (await listOurs()).filter((c) => c.State === "running").map((c) => c.Id),
    );
    await Promise.all(
      [...owned.values()].filter((tm) => !runningIds.has(tm.containerId)).map(exited),
    );
  }

  async function follow(): Promise<void> {
    const filters = JSON.stringify({
      type: ["container"],
      event: ["die"],
      label: [`${DOCKER_LABELS.cluster}=${clusterId}`],
    });
    const stream = engine.events({ filters }, (event) => {
      const id = (event as { Actor?: { ID?: string } }).Actor?.ID;
      const tm = [...owned.values()].find((c) => c.containerId === id);
      if (tm) void exited(tm);
    });
    events = stream;
    await stream.opened;
    void stream.ended.then(() => {
      if (stopped || events !== stream) return;
      log.warn("Docker event stream ended; following it again in 1 s");
      reconnect = setTimeout(() => {
        void follow()
          .then(sweep)
          .catch((err: Error) => log.warn({ err: err.message }, "Docker events not followed"));
      }, 1000);
      reconnect.unref?.();
    });
  }

  /** Adopts running leftovers of this cluster and removes the others; then follows exits. */
  async function reconcile(): Promise<void> {
    await follow();
    for (const c of await listOurs()) {
      const labels = c.Labels ?? {};
      const tmId = labels[DOCKER_LABELS.tm] as TaskManagerId | undefined;
      const name = (c.Names?.[0] ?? c.Id).replace(/^\//, "");
      if (tmId && owned.has(tmId)) continue;
      if (c.State === "running" && tmId) {
        const p = profileOfLabel(labels[DOCKER_LABELS.profile]);
        owned.set(tmId, { tmId, containerId: c.Id, name, profile: p, adopted: true });
        log.info({ tmId, container: name }, "adopted a running TaskManager container");
      } else {
        await remove(c.Id);
        log.info({ tmId, container: name, state: c.State }, "removed a leftover container");
      }
    }
  }

  function ready(): Promise<void> {
    readiness ??= reconcile().catch((err) => {
      readiness = undefined;
      const stream = events;
      events = undefined;
      stream?.close();
      throw err;
    });
    return readiness;
  }

  async function createAndStart(tmId: TaskManagerId, p: ResourceProfile) {
    const name = `flotilla-${clusterId}-${tmId}`;
    let containerId: string;
    try {
      const created = await engine.call<{ Id: string }>("POST", "/containers/create", {
        query: { name },
        body: {
          Image: image,
          ...(command ? { Cmd: command } : {}),
          Env: containerEnv(tmId, p, env),
          Labels: {
            [DOCKER_LABELS.cluster]: clusterId,
            [DOCKER_LABELS.role]: "taskmanager",
            [DOCKER_LABELS.tm]: tmId,
            [DOCKER_LABELS.managedBy]: managedBy,
            [DOCKER_LABELS.profile]: JSON.stringify(p),
          },
          HostConfig: confinedHostConfig(
            p,
            fileArchives.map((a) => a.dir),
            network,
            { pidsLimit, defaultMemoryMb, tmpfsMb },
          ),
        },
      });
      containerId = created.body.Id;
    } catch (err) {
      throw explainRefusal(err, "create a TaskManager container", image, network);
    }
    const tm: TaskManagerContainer = { tmId, containerId, name, profile: p, adopted: false };
    owned.set(tmId, tm);
    let step = `copy ${files.map((f) => f.path).join(", ")} into TaskManager container ${name}`;
    try {
      for (const { dir, tar } of fileArchives) await engine.putArchive(containerId, dir, tar);
      step = `start TaskManager container ${name}`;
      await engine.call("POST", `/containers/${containerId}/start`, { accept: [304] });
    } catch (err) {
      owned.delete(tmId);
      await remove(containerId).catch(() => {});
      throw explainRefusal(err, step, image, network);
    }
    if (stopped) {
      // stop() ran while this one was being created: it did not see it.
      owned.delete(tmId);
      await stopContainer(tm).catch(() => {});
      throw new FlotillaError(ErrorCode.UNAVAILABLE, "the docker driver was stopped meanwhile");
    }
    return tm;
  }

  // Leftovers are handled when the driver starts (the RM's leadership), not at its first request.
  ready().catch((err: Error) =>
    log.error({ err: err.message }, "docker driver: leftovers not checked; retried at next start"),
  );

  return {
    kind: "docker",
    ready,
    // Container names resolve on the driver's network (Docker's DNS), adopted ones included.
    metricsHosts: () => [...owned.values()].map((tm) => ({ tmId: tm.tmId, host: tm.name })),
    canStart(p) {
      if (stopped || owned.size + starting >= maxTaskManagers) return false;
      return !maxProfile || covers(maxProfile, isAny(p) ? defaultProfile : p);
    },
    async startTaskManager(requested) {
      if (stopped) {
        throw new FlotillaError(ErrorCode.UNAVAILABLE, "the docker driver is stopped");
      }
      if (owned.size + starting >= maxTaskManagers)
        throw tooManyTaskManagers("docker", owned.size + starting, maxTaskManagers);
      const p = isAny(requested) ? defaultProfile : requested;
      starting++;
      try {
        await ready();
        const tm = await createAndStart(newTaskManagerId(), p);
        log.info(
          { tmId: tm.tmId, container: tm.name, image, profile: describeProfile(p) },
          "TaskManager container started",
        );
      } finally {
        starting--;
      }
    },
    async stopTaskManager(tmId) {
      const tm = owned.get(tmId);
      if (!tm) return false;
      owned.delete(tmId);
      try {
        await stopContainer(tm);
      } catch (err) {
        owned.set(tmId, tm);
        throw err;
      }
      log.info({ tmId, container: tm.name }, "TaskManager container stopped and removed");
      return true;
    },
    running: () => [...owned.values()].map((tm) => ({ ...tm })),
    async stop() {
      stopped = true;
      clearTimeout(reconnect);
      events?.close();
      await readiness?.catch(() => {});
      const all = [...owned.values()];
      owned.clear();
      const results = await Promise.allSettled(all.map(stopContainer));
      results.forEach((r, i) => {
        if (r.status === "rejected") {
          log.warn(
            { tmId: all[i]!.tmId, err: (r.reason as Error).message },
            "TaskManager container not removed",
          );
        }
      });
    },
  };
}
