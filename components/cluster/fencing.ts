/**
 * Cuts a deposed leader's blocks off the cluster. Every Dispatcher leadership term (any role
 * that runs one: master, dispatcher, auto) gets a fresh Dispatcher on a fabric and stores
 * wrapped here: once `active()` turns false (the lease is lost, even before the revoke callback
 * ran, as in a process resumed after a pause) its JobManagers can no longer call TaskManagers or
 * the ResourceManager, its subjects stop answering, and its HA writes are refused, so whatever
 * they still do on their way out never reaches the cluster the new leader runs.
 */
import { StaleLeaderError } from "../core/mod.ts";
import type { DispatcherStores } from "../dispatcher/mod.ts";
import type { FetchApp, Transport } from "../rpc/mod.ts";
import type { Fabric } from "./fabric.ts";

/**
 * `active()` says whether the holder still leads (check the lease's own deadline, as
 * `LeaderElection.isLeader()` does, not a flag a callback clears); `who` names it in refusals.
 */
export interface Fence {
  active(): boolean;
  who: string;
  /**
   * The lease behind `active()` (the `auto` role's `master`), when it is one: leases taken while
   * it holds are written under it, so the next holder of that lease takes them over at once.
   */
  lease?: string;
}

function refused({ who }: Fence, what: string): StaleLeaderError {
  return new StaleLeaderError(
    `${who} no longer leads: ${what} was refused (the new leader does it)`,
  );
}

/** Calls through `transportFor` go out only while the fence holds; refused at once otherwise. */
export function fencedTransports(
  transportFor: (subject: string) => Transport,
  fence: Fence,
): (subject: string) => Transport {
  return (subject) => {
    const inner = transportFor(subject);
    return {
      target: inner.target,
      send: (request, timeoutMs) =>
        fence.active()
          ? inner.send(request, timeoutMs)
          : Promise.reject(refused(fence, `a call to ${subject}`)),
      ...(inner.settling ? { settling: () => inner.settling!() } : {}),
    };
  };
}

export function fencedFabric(fabric: Fabric, fence: Fence): Fabric {
  return {
    ...fabric,
    transportFor: fencedTransports(fabric.transportFor, fence),
    serve(subject, app, options = {}) {
      // Silent rather than 503 over NATS: the new leader's server of the subject answers.
      const accept = () => fence.active() && (options.accept?.() ?? true);
      const gated: FetchApp = {
        fetch: (request, ...rest) =>
          fence.active()
            ? app.fetch(request, ...rest)
            : Response.json(
                {
                  errors: [`${fence.who} is no longer the master: ask the new one`],
                  code: "UNAVAILABLE",
                },
                { status: 503 },
              ),
      };
      return fabric.serve(subject, gated, { ...options, accept });
    },
  };
}

export function fencedStores(stores: DispatcherStores, fence: Fence): DispatcherStores {
  const guard =
    <A extends unknown[], R>(what: string, write: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      fence.active() ? write(...args) : Promise.reject(refused(fence, what));
  // Every method spelled out: a store may be a class instance, whose methods a spread loses.
  return {
    blobs: {
      put: guard("storing a blob", (bytes) => stores.blobs.put(bytes)),
      get: (key) => stores.blobs.get(key),
      has: (key) => stores.blobs.has(key),
      list: (prefix) => stores.blobs.list(prefix),
      remove: guard("removing a blob", (key) => stores.blobs.remove(key)),
    },
    jobs: {
      put: guard("storing a job", (record) => stores.jobs.put(record)),
      list: () => stores.jobs.list(),
      remove: guard("removing a job", (jobId) => stores.jobs.remove(jobId)),
    },
    results: {
      put: guard("storing a job result", (result) => stores.results.put(result)),
      get: (jobId) => stores.results.get(jobId),
      list: () => stores.results.list(),
      remove: guard("removing a job result", (jobId) => stores.results.remove(jobId)),
    },
    checkpoints: {
      add: guard("storing a checkpoint", (cp) => stores.checkpoints.add(cp)),
      latest: (jobId) => stores.checkpoints.latest(jobId),
      removeJob: guard("removing checkpoints", (jobId) => stores.checkpoints.removeJob(jobId)),
    },
    snapshots: stores.snapshots,
  };
}
