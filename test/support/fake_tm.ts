/**
 * A fake TaskManager for the ResourceManager tests: the two routes the RM calls (heartbeat and
 * slot allocation, from `taskManagerSlotRoutes`) over a slot table in memory, plus `Recorder`, which
 * lets a test await what arrives instead of sleeping.
 *
 * Run as a script it is a whole fake TaskManager process, as the process driver starts one:
 * it serves on `flotilla.<cluster>.taskmanager.<tmId>` and registers at the RM over NATS, with one
 * slot of the profile its config says (`taskmanager.cpu`, `.memory-mb`, `.extended-resources`,
 * which the driver sets); it heartbeats the RM, registers again when the RM forgot it, and
 * unregisters on SIGTERM (unless `FAKE_TM_IGNORE_SIGTERM=1`).
 */

import { pathToFileURL } from "node:url";
import { connect } from "@nats-io/transport-node";
import {
  compileConfig,
  ErrorCode,
  FlotillaError,
  parseTaskManagerId,
  type SlotId,
  slotId,
  subjects,
  type TaskManagerId,
} from "../../components/core/mod.ts";
import {
  type AllocateSlotRequest,
  type ResourceManagerApp,
  type ResourceProfile,
  type SlotReport,
  type TaskManagerRegistration,
  taskManagerSlotRoutes,
} from "../../components/protocol/mod.ts";
import { covers, profile, subtract, sum } from "../../components/resourcemanager/mod.ts";
import {
  createClient,
  FencingTokens,
  natsTransport,
  serveNats,
  unwrap,
} from "../../components/rpc/mod.ts";

/** Things that arrived, and a way to await the one a test needs. */
export class Recorder<T> {
  readonly items: T[] = [];
  readonly #waiters = new Set<() => void>();

  push(item: T): void {
    this.items.push(item);
    for (const wake of [...this.#waiters]) wake();
  }

  /** Resolves with the items once `done(items)` holds; rejects after `timeoutMs`. */
  waitFor(done: (items: T[]) => boolean, what: string, timeoutMs = 5000): Promise<T[]> {
    if (done(this.items)) return Promise.resolve(this.items);
    return new Promise((resolve, reject) => {
      const wake = () => {
        if (!done(this.items)) return;
        cleanup();
        resolve(this.items);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
      };
      this.#waiters.add(wake);
    });
  }
}

export interface FakeTaskManagerOptions {
  tmId: string;
  subject?: string;
  /** One fixed slot per profile. @default none */
  slots?: ResourceProfile[];
  /** Carve slots on demand out of `total`. @default false */
  dynamicSlots?: boolean;
  /** @default the sum of the slots */
  total?: ResourceProfile;
  /** The RM tokens seen (a fresh table by default): a call from an older RM gets 409. */
  fencingTokens?: FencingTokens;
  /** Called after each new allocation. */
  onAllocate?: (allocation: Allocation) => void;
}

export type Allocation = AllocateSlotRequest & { slotId: SlotId };

export function fakeTaskManager({
  tmId: name,
  subject = `t.tm.${name}`,
  slots = [],
  dynamicSlots = false,
  total = sum(slots),
  fencingTokens = new FencingTokens(),
  onAllocate,
}: FakeTaskManagerOptions) {
  const tmId = parseTaskManagerId(name);
  const table = new Map<SlotId, SlotReport>(
    slots.map((p, index) => [
      slotId(tmId, index),
      { slotId: slotId(tmId, index), index, profile: p, state: "free" },
    ]),
  );
  const allocations = new Recorder<Allocation>();
  const heartbeats = new Recorder<number>();
  /** Slot ids whose allocation this TaskManager refuses (409), as if held by someone else. */
  const refuse = new Set<string>();

  const report = (): SlotReport[] => [...table.values()].map((s) => ({ ...s }));
  const used = () =>
    sum([...table.values()].filter((s) => s.state !== "free").map((s) => s.profile));

  const app = taskManagerSlotRoutes(
    {
      heartbeat: () => {
        heartbeats.push(Date.now());
        return { tmId, slots: report() };
      },
      allocate: (id, request) => {
        let slot = table.get(id);
        if (!slot && dynamicSlots) {
          const free = subtract(total, used());
          if (!covers(free, request.profile)) {
            throw new FlotillaError(ErrorCode.CONFLICT, `not enough resources left for ${id}`);
          }
          const index = Number(id.slice(id.lastIndexOf("_") + 1));
          slot = { slotId: id, index, profile: request.profile, state: "free" };
          table.set(id, slot);
        }
        if (!slot) throw new FlotillaError(ErrorCode.NOT_FOUND, `no slot ${id} on ${tmId}`);
        if (slot.allocationId === request.allocationId)
          return { slotId: id, allocationId: request.allocationId };
        if (slot.state !== "free" || refuse.has(id)) {
          throw new FlotillaError(
            ErrorCode.CONFLICT,
            `slot ${id} is held by ${slot.allocationId ?? "someone else"}`,
          );
        }
        Object.assign(slot, {
          state: "allocated",
          jobId: request.jobId,
          allocationId: request.allocationId,
        });
        allocations.push({ ...request, slotId: id });
        onAllocate?.({ ...request, slotId: id });
        return { slotId: id, allocationId: request.allocationId };
      },
    },
    { fencingTokens },
  );

  return {
    tmId,
    subject,
    app,
    allocations,
    heartbeats,
    refuse,
    report,
    /** The job freed the slot (its JobManager released it). */
    free(id: SlotId): void {
      const slot = table.get(id);
      if (!slot) return;
      if (dynamicSlots) table.delete(id);
      else
        table.set(id, {
          slotId: slot.slotId,
          index: slot.index,
          profile: slot.profile,
          state: "free",
        });
    },
    registration(): TaskManagerRegistration {
      return { tmId, subject, slots: report(), totalResources: total, dynamicSlots };
    },
  };
}

export type FakeTaskManager = ReturnType<typeof fakeTaskManager>;

/**
 * The test-only subjects of a fake TaskManager process, under the cluster's subject: where it
 * tells its events, and where a test asks one to free its slots.
 */
export const fakeTaskManagerSubjects = {
  events: (clusterId: string): string => `${subjects.cluster(clusterId)}.test.tm-events`,
  free: (clusterId: string, tmId: string): string =>
    `${subjects.cluster(clusterId)}.test.tm.${tmId}.free`,
};

/** The script: a fake TaskManager process that registers at the RM over NATS. */
async function main(): Promise<void> {
  // Its configuration the way a real TaskManager reads it: what the driver set, and defaults.
  const config = compileConfig();
  const clusterId = config["cluster.id"];
  const tmId = parseTaskManagerId(config["taskmanager.id"]) as TaskManagerId;
  const slot = profile(
    config["taskmanager.cpu"],
    config["taskmanager.memory-mb"],
    config["taskmanager.extended-resources"],
  );
  const nc = await connect({ servers: config["nats.url"].split(",") });
  // Tests follow the process through events, and free its slots with a message.
  const tell = (event: string, detail: Record<string, unknown> = {}) =>
    nc.publish(
      fakeTaskManagerSubjects.events(clusterId),
      JSON.stringify({ tmId, event, ...detail }),
    );
  const tm = fakeTaskManager({
    tmId,
    subject: subjects.taskManager(clusterId, tmId),
    slots: [slot],
    onAllocate: (a) => tell("allocated", { slotId: a.slotId, jobId: a.jobId, profile: a.profile }),
  });
  const served = serveNats(tm.app, { nc, subject: tm.subject });
  nc.subscribe(fakeTaskManagerSubjects.free(clusterId, tmId), {
    callback: () => {
      for (const slot of tm.report()) tm.free(slot.slotId);
      tell("freed");
    },
  });
  const rm = createClient<ResourceManagerApp>(
    natsTransport(nc, subjects.resourceManager(clusterId)),
  );
  let { heartbeatIntervalMs } = await unwrap(rm.taskmanagers.$post({ json: tm.registration() }));
  console.log(`fake TaskManager ${tmId} registered on ${tm.subject}`);
  tell("registered", { profile: slot });

  const timer = setInterval(async () => {
    try {
      const { known } = await unwrap(
        rm.taskmanagers[":tmId"].heartbeat.$put({ param: { tmId }, json: { slots: tm.report() } }),
      );
      if (!known)
        ({ heartbeatIntervalMs } = await unwrap(
          rm.taskmanagers.$post({ json: tm.registration() }),
        ));
    } catch (err) {
      console.error(`heartbeat failed: ${(err as Error).message}`);
    }
  }, heartbeatIntervalMs);

  process.on("SIGTERM", async () => {
    tell("sigterm");
    await nc.flush();
    if (process.env.FAKE_TM_IGNORE_SIGTERM === "1") return;
    clearInterval(timer);
    await unwrap(rm.taskmanagers[":tmId"].$delete({ param: { tmId } })).catch(() => {});
    await served.stop();
    await nc.close();
    process.exit(0);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
