/**
 * A JobManager with in-process peers, for socket-free tests of its app: a fake ResourceManager and
 * fake TaskManagers that mount the real contracts' routes (`resourceManagerRoutes`,
 * `taskManagerTaskRoutes`) and record every call, so a test awaits what arrives. `peers` is what
 * listens on each subject (a test removes the RM's entry to make it unreachable).
 */
import {
  type AllocationId,
  ErrorCode,
  FlotillaError,
  type JobId,
  newJobId,
  type SlotId,
  slotId,
  subjects,
  type TaskManagerId,
  TaskState,
} from "../../../components/core/mod.ts";
import { memorySnapshotStore } from "../../../components/dataflow/internal_mod.ts";
import { defineJob, type JobOptions, sinks, sources } from "../../../components/dataflow/mod.ts";
import {
  createJobMaster,
  type JobManagerOptions,
  type JobMaster,
  jobManagerApp,
} from "../../../components/jobmanager/mod.ts";
import {
  type AllocationInfo,
  type CancelTasks,
  type FreeSlotRequest,
  type JobManagerApp,
  type RequirementsDeclaration,
  type ResourceManagerHandlers,
  resourceManagerRoutes,
  type TaskDescriptor,
  type TriggerCheckpoint,
  taskManagerTaskRoutes,
} from "../../../components/protocol/mod.ts";
import {
  createClient,
  type FetchApp,
  localTransport,
  NoRespondersError,
  type Transport,
  unwrap,
} from "../../../components/rpc/mod.ts";
import { Recorder } from "../../support/fake_tm.ts";

export const CLUSTER = "t";
export const ARTIFACT = "a".repeat(64);
const ANY = { cpu: 0, memoryMb: 0, extended: {} };

/** source (2) -> keyed map (2): four subtasks on two shared slots, sources on both. */
export function twoByTwoJob(options: Partial<JobOptions> = {}) {
  return defineJob({ name: "app", parallelism: 2, ...options }, (env) =>
    env
      .source(sources.sequence({ keys: 2 }))
      .keyBy((r) => r.key)
      .map((r) => r)
      .sink(sinks.discard()),
  );
}

export const twoByTwo = (options: Partial<JobOptions> = {}) => twoByTwoJob(options).graph();

/** The order the fake ResourceManager and TaskManagers were called in (clears and frees). */
export const calls: string[] = [];

/** A ResourceManager from its contract: records declarations, answers for the allocations in `made`. */
function fakeResourceManager() {
  const declared = new Recorder<RequirementsDeclaration>();
  const cleared = new Recorder<JobId>();
  /** Allocations this RM made (as the real one records them before it calls the TaskManager). */
  const made = new Map<AllocationId, AllocationInfo>();
  /** Every allocation a JobManager asked about. */
  const lookups = new Recorder<AllocationId>();
  const unused = () => {
    throw new FlotillaError(ErrorCode.NOT_FOUND, "the fake ResourceManager has no such route");
  };
  const handlers: ResourceManagerHandlers = {
    health: unused,
    overview: unused,
    taskManagers: unused,
    taskManager: unused,
    register: unused,
    heartbeat: unused,
    unregister: unused,
    jobs: unused,
    declare(jobId, declaration) {
      declared.push(declaration);
      return { jobId, requirements: declaration.requirements };
    },
    clear(jobId) {
      calls.push(`clear ${jobId}`);
      cleared.push(jobId);
      return { jobId };
    },
    allocation(allocationId) {
      lookups.push(allocationId);
      const known = made.get(allocationId);
      if (!known) throw new FlotillaError(ErrorCode.NOT_FOUND, `no allocation ${allocationId}`);
      return known;
    },
  };
  return { app: resourceManagerRoutes(handlers), declared, cleared, made, lookups };
}

export interface FakeTaskManagerOptions {
  /** Report every task of a canceled attempt canceled, as a real TaskManager does. @default true */
  reportsCanceled?: boolean;
}

/** A TaskManager's side of the JobManager's calls, recorded; its reports go back to `jm`. */
function fakeTaskManager(
  tmId: TaskManagerId,
  jm: () => ReturnType<typeof createClient<JobManagerApp>>,
  { reportsCanceled = true }: FakeTaskManagerOptions,
) {
  const deployed = new Recorder<TaskDescriptor>();
  const canceled = new Recorder<CancelTasks>();
  const triggered = new Recorder<TriggerCheckpoint & { checkpointId: number }>();
  const confirmed = new Recorder<number>();
  const freed = new Recorder<FreeSlotRequest & { slotId: SlotId }>();
  /** Allocations whose deployment this TaskManager refuses with CONFLICT (not held for the job). */
  const notHeld = new Set<string>();
  const app = taskManagerTaskRoutes({
    deploy(descriptor) {
      if (notHeld.has(descriptor.allocationId))
        throw new FlotillaError(ErrorCode.CONFLICT, `${descriptor.allocationId} is not held`);
      deployed.push(descriptor);
      const { jobId, attempt, vertexId, subtask } = descriptor;
      return { deployed: `${jobId}/${attempt}/${vertexId}/${subtask}` };
    },
    cancelTasks(_jobId, request) {
      canceled.push(request);
      const live = deployed.items.filter((d) => d.attempt <= request.attempt);
      // Reported after the reply, as a TaskManager's tasks stop on their own time.
      if (reportsCanceled)
        setImmediate(() => {
          for (const { attempt, vertexId, subtask } of live)
            void unwrap(
              jm().tasks.state.$post({
                json: { attempt, vertexId, subtask, state: TaskState.CANCELED },
              }),
            );
        });
      return { canceled: live.length };
    },
    triggerCheckpoint(_jobId, checkpointId, request) {
      triggered.push({ ...request, checkpointId });
      return { triggered: 1 };
    },
    confirmCheckpoint(_jobId, checkpointId) {
      confirmed.push(checkpointId);
      return { notified: 1 };
    },
    freeSlot(id, request) {
      calls.push(`free ${id}`);
      freed.push({ ...request, slotId: id });
      return { freed: true };
    },
  });
  const subject = subjects.taskManager(CLUSTER, tmId);
  return { tmId, subject, app, deployed, canceled, triggered, confirmed, freed, notHeld };
}

export type FakeTaskManager = ReturnType<typeof fakeTaskManager>;

export interface SetupOptions extends FakeTaskManagerOptions {
  graph?: ReturnType<typeof twoByTwo>;
  options?: Partial<JobManagerOptions>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A JobManager of a `twoByTwo` job (by default), one fake TaskManager and a fake RM. */
export function setup(t: Teardown, { graph = twoByTwo(), options = {}, ...tm }: SetupOptions = {}) {
  const jobId = newJobId();
  const peers = new Map<string, FetchApp>();
  const transportFor = (subject: string): Transport => ({
    target: subject,
    send: (request, timeoutMs) => {
      const app = peers.get(subject);
      if (!app) return Promise.reject(new NoRespondersError(`nothing listens on ${subject}`));
      return localTransport(app, subject).send(request, timeoutMs);
    },
  });
  const rm = fakeResourceManager();
  peers.set(subjects.resourceManager(CLUSTER), rm.app);
  const jm: JobMaster = createJobMaster({
    clusterId: CLUSTER,
    jobId,
    graph,
    artifact: ARTIFACT,
    transportFor,
    snapshots: memorySnapshotStore(),
    rpc: { timeoutMs: 2000, attemptTimeoutMs: 500 },
    ...options,
  });
  const app = jobManagerApp(jm);
  peers.set(jm.subject, app);
  const client = createClient<JobManagerApp>(localTransport(app));
  const taskManager = fakeTaskManager("tm-1" as TaskManagerId, () => client, tm);
  peers.set(taskManager.subject, taskManager.app);
  // Whatever a test leaves running ends with it: no timer outlives the test.
  t.teardown(() => jm.suspend());

  /** One route by method and path, as JSON, the way an operator's curl would call it. */
  async function call(method: string, path: string, body?: unknown) {
    const res = await app.request(path, {
      method,
      ...(body === undefined
        ? {}
        : {
            headers: { "content-type": "application/json" },
            body: typeof body === "string" ? body : JSON.stringify(body),
          }),
    });
    return { status: res.status, body: (await res.json()) as unknown };
  }

  /**
   * The fake TaskManager offers `count` slots of its own, each allocated to the job by the fake
   * RM first (as the real RM records an allocation before it calls the TaskManager), unless
   * `allocatedByRm` is false: a forged offer.
   */
  function offer(count: number, from = 0, { allocatedByRm = true } = {}) {
    const { tmId, subject: tmSubject } = taskManager;
    const slots = Array.from({ length: count }, (_, i) => ({
      slotId: slotId(tmId, from + i),
      allocationId: `alloc-${from + i}` as AllocationId,
      profile: ANY,
    }));
    if (allocatedByRm)
      for (const slot of slots)
        rm.made.set(slot.allocationId, {
          allocationId: slot.allocationId,
          jobId,
          tmId,
          slotId: slot.slotId,
          tmSubject,
          pending: true,
        });
    return call("POST", "/slots/offer", { tmId, tmSubject, slots });
  }

  /** Every task of `attempt` reports `state` (deployments recorded by the fake TaskManager). */
  async function report(attempt: number, state: TaskState) {
    for (const d of taskManager.deployed.items.filter((d) => d.attempt === attempt))
      await call("POST", "/tasks/state", {
        attempt,
        vertexId: d.vertexId,
        subtask: d.subtask,
        state,
      });
  }

  /** One subtask of `attempt` reports it failed, as its TaskManager would. */
  function taskFailed(attempt: number, vertexId: string, subtask: number, message: string) {
    return call("POST", "/tasks/state", {
      attempt,
      vertexId,
      subtask,
      state: TaskState.FAILED,
      error: { code: "INTERNAL", message },
    });
  }

  return { jobId, jm, app, client, rm, peers, taskManager, call, offer, report, taskFailed };
}
