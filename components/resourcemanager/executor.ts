/**
 * Carries out the SlotManager's decisions: allocate calls to TaskManagers, notices to
 * JobManagers, and start/stop requests to the driver. A failed call feeds back into the
 * SlotManager (a refused allocation frees the slot for another match); nothing here throws.
 */
import { ensureError, type Logger, type TaskManagerId } from "../core/mod.ts";
import type { JobManagerResourceApp, TaskManagerSlotApp } from "../protocol/mod.ts";
import {
  type ClientOptions,
  createClient,
  fencingHeaders,
  type RpcClient,
  type Transport,
  unwrap,
} from "../rpc/mod.ts";
import { describeProfile } from "./profile.ts";
import type { SlotManager } from "./slot_manager.ts";
import type { ResourceDriver, SlotManagerAction } from "./types.ts";

type Action<K extends SlotManagerAction["kind"]> = Extract<SlotManagerAction, { kind: K }>;

export interface ExecutorOptions {
  slotManager: SlotManager;
  driver: ResourceDriver;
  transportFor: (subject: string) => Transport;
  token: number;
  rpc: Pick<ClientOptions, "timeoutMs" | "attemptTimeoutMs">;
  log: Logger;
  /** A released TaskManager is removed from the RM (heartbeats, clients) through this. */
  removeTaskManager: (tmId: TaskManagerId, reason: string) => void;
}

export class ActionExecutor {
  readonly #o: ExecutorOptions;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #tmClients = new Map<string, RpcClient<TaskManagerSlotApp>>();
  readonly #jmClients = new Map<string, RpcClient<JobManagerResourceApp>>();

  constructor(options: ExecutorOptions) {
    this.#o = options;
  }

  /** Starts every action; `settled()` waits for them (and for what they lead to). */
  run(actions: readonly SlotManagerAction[] | undefined): void {
    for (const action of actions ?? []) {
      const done: Promise<void> = this.#execute(action)
        .catch((err) => this.#o.log.error({ err, action }, "resource action failed"))
        .finally(() => this.#inFlight.delete(done));
      this.#inFlight.add(done);
    }
  }

  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** The typed client for a TaskManager subject (shared by allocations and heartbeats). */
  taskManager(subject: string): RpcClient<TaskManagerSlotApp> {
    let client = this.#tmClients.get(subject);
    if (!client) {
      client = createClient<TaskManagerSlotApp>(
        this.#o.transportFor(subject),
        this.#clientOptions(),
      );
      this.#tmClients.set(subject, client);
    }
    return client;
  }

  forget(subject: string): void {
    this.#tmClients.delete(subject);
  }

  #jobManager(subject: string): RpcClient<JobManagerResourceApp> {
    let client = this.#jmClients.get(subject);
    if (!client) {
      client = createClient<JobManagerResourceApp>(
        this.#o.transportFor(subject),
        this.#clientOptions(),
      );
      this.#jmClients.set(subject, client);
    }
    return client;
  }

  #clientOptions(): ClientOptions {
    return { ...this.#o.rpc, headers: fencingHeaders(this.#o.token) };
  }

  async #execute(action: SlotManagerAction): Promise<void> {
    switch (action.kind) {
      case "allocate":
        return await this.#allocate(action);
      case "unfulfillable":
        return await this.#unfulfillable(action);
      case "request-tm":
        return await this.#requestTaskManager(action);
      case "tm-lost":
        return await this.#taskManagerLost(action);
      case "release-tm":
        return await this.#release(action);
    }
  }

  async #allocate(action: Action<"allocate">): Promise<void> {
    const { tmId, subject, slotId, jobId, allocationId, jmSubject, profile } = action;
    const { log, slotManager } = this.#o;
    try {
      await unwrap(
        this.taskManager(subject).slots[":slotId"].allocate.$post(
          { param: { slotId }, json: { jobId, allocationId, jmSubject, profile } },
          { headers: { "idempotency-key": allocationId } },
        ),
      );
      slotManager.allocationConfirmed(allocationId);
      log.info({ tmId, slotId, jobId, allocationId }, "slot allocated");
    } catch (err) {
      log.warn(
        { tmId, slotId, jobId, allocationId, err: ensureError(err).message },
        "TaskManager did not take the allocation; matching again",
      );
      this.run(slotManager.allocationFailed(allocationId));
    }
  }

  async #unfulfillable({ jobId, jmSubject, missing }: Action<"unfulfillable">): Promise<void> {
    const what = missing.map((r) => `${r.count} x ${describeProfile(r.profile)}`).join(", ");
    this.#o.log.warn({ jobId, missing }, `not enough resources for job ${jobId}: ${what}`);
    try {
      await unwrap(this.#jobManager(jmSubject).resources.unavailable.$post({ json: { missing } }));
    } catch (err) {
      this.#o.log.warn({ jobId, jmSubject, err: ensureError(err).message }, "JobManager not told");
    }
  }

  async #requestTaskManager({ profile }: Action<"request-tm">): Promise<void> {
    const { driver, log, slotManager } = this.#o;
    log.info({ profile, driver: driver.kind }, "starting a TaskManager");
    try {
      await driver.startTaskManager(profile);
      slotManager.taskManagerRequestSucceeded(profile);
    } catch (err) {
      log.warn({ profile, err: ensureError(err).message }, "driver could not start a TaskManager");
      slotManager.taskManagerRequestFailed(profile);
    }
  }

  async #taskManagerLost({ tmId, reason, jobs }: Action<"tm-lost">): Promise<void> {
    const { log } = this.#o;
    if (jobs.length === 0) {
      log.info({ tmId, reason }, "TaskManager removed");
      return;
    }
    log.warn(
      { tmId, reason, jobs: jobs.map((j) => j.jobId) },
      "TaskManager lost with slots in use",
    );
    await Promise.all(
      jobs.map(async ({ jobId, jmSubject }) => {
        if (!jmSubject) return log.warn({ tmId, jobId }, "no JobManager known to tell");
        try {
          await unwrap(
            this.#jobManager(jmSubject).taskmanagers[":tmId"].lost.$post(
              { param: { tmId }, json: { reason } },
              { headers: { "idempotency-key": `${tmId}-lost-${jobId}` } },
            ),
          );
        } catch (err) {
          log.warn({ tmId, jobId, err: ensureError(err).message }, "JobManager not told of loss");
        }
      }),
    );
  }

  async #release({ tmId }: Action<"release-tm">): Promise<void> {
    const { driver, log, slotManager } = this.#o;
    let stopped = false;
    try {
      stopped = await driver.stopTaskManager(tmId);
    } catch (err) {
      log.warn(
        { tmId, err: ensureError(err).message },
        "driver could not stop an idle TaskManager",
      );
    }
    if (stopped) this.#o.removeTaskManager(tmId, `TaskManager ${tmId} released: idle`);
    else slotManager.releaseDeclined(tmId);
  }
}
