/**
 * A TaskManager on in-process transports for the socket-free tests: its JobManager and
 * ResourceManager are fakes mounting their contracts' own routes, recording what arrives; a
 * subject nobody serves has "no responders", as over NATS.
 */
import { fileURLToPath } from "node:url";
import {
  type AllocationId,
  type JobId,
  JobState,
  subjects,
  type TaskManagerId,
  UnavailableError,
} from "../../../components/core/mod.ts";
import {
  artifactHash,
  bundleJob,
  loadArtifact,
  localChannels,
  memorySnapshotStore,
} from "../../../components/dataflow/internal_mod.ts";
import {
  type CheckpointAck,
  type HeartbeatReport,
  jobManagerResourceRoutes,
  jobManagerTaskRoutes,
  type ResourceProfile,
  resourceManagerRoutes,
  type SlotOffer,
  type TaskDescriptor,
  type TaskManagerLost,
  type TaskManagerRegistration,
  type TaskStateReport,
} from "../../../components/protocol/mod.ts";
import {
  createBlock,
  type FetchApp,
  localTransport,
  NoRespondersError,
  type Transport,
} from "../../../components/rpc/mod.ts";
import { createTaskManager, type TaskManagerOptions } from "../../../components/taskmanager/mod.ts";
import { Recorder } from "../../support/fake_tm.ts";

export const CLUSTER = "t";
export const TM = "tm-u" as TaskManagerId;
export const JOB = "0123456789abcdef0123456789abcdef" as JobId;
export const JM = subjects.jobManager(CLUSTER, JOB);
export const ANY: ResourceProfile = { cpu: 0, memoryMb: 0, extended: {} };
export const alloc = (name: string) => name as AllocationId;

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** The endless job's artifact (one chained vertex, runs until canceled), bundled once. */
let endless: Promise<{ bytes: Uint8Array; artifact: string; vertexId: string }> | undefined;
export function endlessJob() {
  endless ??= (async () => {
    const bytes = await bundleJob(
      fileURLToPath(new URL("../../support/jobs/endless.ts", import.meta.url)),
    );
    const graph = (await loadArtifact(bytes, { name: "endless" })).graph({ args: {} });
    if (graph.vertices.length !== 1)
      throw new Error("the endless job should chain into one vertex");
    return { bytes, artifact: await artifactHash(bytes), vertexId: graph.vertices[0]!.id };
  })();
  return endless;
}

/** A JobManager of JOB from its contract: it holds the allocations in `holds` and, while `takesNew`, any offered. */
export function fakeJobManager() {
  const state = { holds: new Set<string>(), takesNew: true, unavailable: false };
  const offers = new Recorder<SlotOffer>();
  const states = new Recorder<TaskStateReport>();
  const acks = new Recorder<CheckpointAck>();
  const lost = new Recorder<TaskManagerLost & { tmId: TaskManagerId }>();
  const app = createBlock()
    .route(
      "/",
      jobManagerTaskRoutes({
        heartbeat: () => ({ jobId: JOB, state: JobState.RUNNING }),
        offerSlots(offer) {
          offers.push(offer);
          if (state.unavailable) throw new UnavailableError("this JobManager is overloaded");
          const accepted = offer.slots.filter((s) => {
            if (state.takesNew) state.holds.add(s.allocationId);
            return state.holds.has(s.allocationId);
          });
          return { accepted: accepted.map((s) => s.slotId) };
        },
        taskState: (report) => states.push(report),
        taskMetrics: () => {},
        acknowledgeCheckpoint: (ack) => acks.push(ack),
        declineCheckpoint: () => {},
        sourceEnded: () => {},
        results: () => {},
      }),
    )
    .route(
      "/",
      jobManagerResourceRoutes({
        resourcesUnavailable: () => {},
        taskManagerLost: (tmId, notice) => lost.push({ tmId, ...notice }),
      }),
    );
  return { subject: JM, app, state, offers, states, acks, lost };
}

/** A ResourceManager from its contract, registering TaskManagers with `state.token`. */
export function fakeResourceManager(token: number) {
  const registrations = new Recorder<TaskManagerRegistration>();
  const heartbeats = new Recorder<HeartbeatReport & { tmId: TaskManagerId }>();
  const state = { token, known: true };
  const unused = () => {
    throw new Error("not called by a TaskManager");
  };
  const app = resourceManagerRoutes({
    health: unused,
    overview: unused,
    taskManagers: unused,
    taskManager: unused,
    unregister: unused,
    jobs: unused,
    declare: unused,
    clear: unused,
    allocation: unused,
    register(registration) {
      registrations.push(registration);
      state.known = true;
      return { rmToken: state.token, heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 5000 };
    },
    heartbeat(tmId, report) {
      heartbeats.push({ tmId, ...report });
      return { known: state.known };
    },
  });
  return { subject: subjects.resourceManager(CLUSTER), app, registrations, heartbeats, state };
}

/** A TaskManager with two free slots whose peers are in-process apps. */
export async function taskManagerFor(t: Teardown, options: Partial<TaskManagerOptions> = {}) {
  const job = await endlessJob();
  const peers = new Map<string, FetchApp>();
  /** Calls made to each subject, answered or not. */
  const calls = new Map<string, number>();
  const transportFor = (subject: string): Transport => ({
    target: subject,
    send: (request, timeoutMs) => {
      calls.set(subject, (calls.get(subject) ?? 0) + 1);
      const app = peers.get(subject);
      if (!app)
        return Promise.reject(new NoRespondersError(`no service is listening on ${subject}`));
      return localTransport(app, subject).send(request, timeoutMs);
    },
  });
  const channels = new Map<string, ReturnType<typeof localChannels>>();
  const tm = createTaskManager({
    clusterId: CLUSTER,
    tmId: TM,
    transportFor,
    channelsFor: (jobId, attempt) => {
      const key = `${jobId}/${attempt}`;
      if (!channels.has(key)) channels.set(key, localChannels());
      return channels.get(key)!;
    },
    artifacts: { get: async (key) => (key === job.artifact ? job.bytes : undefined) },
    snapshots: memorySnapshotStore(),
    slots: [ANY, ANY],
    rpc: { timeoutMs: 1000, attemptTimeoutMs: 500 },
    // Long enough that no heartbeat, offer retry or report deadline ends within a test unless
    // a test says otherwise.
    heartbeatIntervalMs: 60_000,
    heartbeatTimeoutMs: 600_000,
    ...options,
  });
  t.teardown(() => tm.stop());
  const jm = fakeJobManager();
  peers.set(jm.subject, jm.app);
  const descriptor = (overrides: Partial<TaskDescriptor> = {}) => ({
    jobId: JOB,
    attempt: 0,
    vertexId: job.vertexId,
    subtask: 0,
    allocationId: alloc("alloc-1"),
    jmSubject: JM,
    artifact: job.artifact,
    args: {},
    ...overrides,
  });
  return { tm, jm, peers, calls, job, descriptor, request: requester(tm.app) };
}

export interface Answer {
  status: number;
  body: unknown;
}

/** Hono's in-process request: no transport, no socket. */
interface Requestable {
  request(path: string, init: RequestInit): Response | Promise<Response>;
}

/** `app.request` with a JSON body and, when given, the RM's fencing token. */
export function requester(app: Requestable) {
  return async (
    method: string,
    path: string,
    { json, token }: { json?: unknown; token?: number } = {},
  ): Promise<Answer> => {
    const headers: Record<string, string> = {};
    if (json !== undefined) headers["content-type"] = "application/json";
    if (token !== undefined) headers["flotilla-fencing-token"] = String(token);
    const res = await app.request(path, {
      method,
      headers,
      ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    });
    return { status: res.status, body: await res.json() };
  };
}
