/**
 * The process driver under a real RM over a real nats-server: a requirement no TaskManager fits
 * starts a TaskManager process (test/support/fake_tm.ts), which registers and gets the slot; once
 * idle for the timeout it is stopped again.
 */

import { fileURLToPath } from "node:url";
import type { NatsConnection } from "@nats-io/transport-node";
import t from "tap";
import { newJobId, subjects, type TaskManagerId } from "../../../components/core/mod.ts";
import type { ResourceManagerApp, ResourceProfile } from "../../../components/protocol/mod.ts";
import {
  ANY_PROFILE,
  createResourceManager,
  type ProcessDriverOptions,
  processDriver,
  profile,
  type RunningTaskManager,
} from "../../../components/resourcemanager/mod.ts";
import { createClient, natsTransport, serveNats, unwrap } from "../../../components/rpc/mod.ts";
import { fakeTaskManager, fakeTaskManagerSubjects, Recorder } from "../../support/fake_tm.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

interface Teardown {
  teardown(fn: () => unknown): void;
}

const FAKE_TM = fileURLToPath(new URL("../../support/fake_tm.ts", import.meta.url));
const clusterId = "pd";

interface TmEvent {
  tmId: TaskManagerId;
  event: "registered" | "allocated" | "freed" | "sigterm";
  profile?: ResourceProfile;
  jobId?: string;
}

/** What the fake TaskManager processes say on their events subject. */
function tmEvents(nc: NatsConnection): Recorder<TmEvent> {
  const events = new Recorder<TmEvent>();
  nc.subscribe(fakeTaskManagerSubjects.events(clusterId), {
    callback: (_err, msg) => events.push(msg.json<TmEvent>()),
  });
  return events;
}

async function setup(
  t: Teardown,
  {
    extraEnv = {},
    ...driverOptions
  }: Partial<ProcessDriverOptions> & { extraEnv?: Record<string, string> } = {},
) {
  const server = await natsFor(t);
  const nc = await connectFor(t, server);
  const events = tmEvents(nc);
  await nc.flush();
  const exits = new Recorder<{ tm: RunningTaskManager; signal: string | null }>();
  const driver = processDriver({
    command: [process.execPath, "--import", "tsx", FAKE_TM],
    env: { FLOTILLA_NATS_URL: server.url, FLOTILLA_CLUSTER_ID: clusterId, ...extraEnv },
    output: "ignore",
    stopGraceMs: 3000,
    onExit: (tm, _code, signal) => exits.push({ tm, signal }),
    ...driverOptions,
  });
  t.teardown(() => driver.stop());
  return { server, nc, events, exits, driver };
}

t.test(
  "a TaskManager process is started for what no TaskManager fits, and released when idle",
  async (t) => {
    const { nc, events, exits, driver } = await setup(t);
    const idleTimeoutMs = 600;
    const rm = createResourceManager({
      nc,
      clusterId,
      token: 1,
      driver,
      config: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 5000, idleTimeoutMs },
    });
    await rm.start();
    t.teardown(() => rm.stop());
    const client = createClient<ResourceManagerApp>(
      natsTransport(nc, subjects.resourceManager(clusterId)),
    );

    // A static TaskManager with a small slot: too small for the job, and not the driver's to stop.
    const small = fakeTaskManager({
      tmId: "tm-static",
      subject: subjects.taskManager(clusterId, "tm-static"),
      slots: [profile(1, 512)],
    });
    const served = serveNats(small.app, { nc, subject: small.subject });
    t.teardown(() => served.stop());
    await nc.flush();
    await unwrap(client.taskmanagers.$post({ json: small.registration() }));

    const job = newJobId();
    const wanted = profile(2, 2048);
    await unwrap(
      client.jobs[":jobId"].requirements.$put({
        param: { jobId: job },
        json: {
          jmSubject: subjects.jobManager(clusterId, job),
          requirements: [{ profile: wanted, count: 1 }],
        },
      }),
    );
    const [registered] = await events.waitFor(
      (e) => e.some((x) => x.event === "registered"),
      "the TaskManager process to register",
      20_000,
    );
    t.same(registered?.profile, wanted, "the process got the profile through its environment");
    t.same(
      driver.running().map((r) => [r.tmId, r.profile]),
      [[registered!.tmId, wanted]],
    );
    const allocated = await events.waitFor(
      (e) => e.some((x) => x.event === "allocated"),
      "the allocation on the new TaskManager",
    );
    t.match(
      allocated.find((x) => x.event === "allocated"),
      { tmId: registered!.tmId, jobId: job },
    );
    t.same(small.allocations.items, [], "nothing on the static TaskManager");
    t.same(
      driver.running().map((r) => r.tmId),
      [registered!.tmId],
      "one process: no second start while the first registered",
    );

    // The job ends; the process frees its slot and reports it with its next heartbeat.
    await unwrap(client.jobs[":jobId"].$delete({ param: { jobId: job } }));
    nc.publish(fakeTaskManagerSubjects.free(clusterId, registered!.tmId));
    const [exit] = await exits.waitFor(
      (x) => x.length === 1,
      "the idle TaskManager to be stopped",
      10_000,
    );
    t.equal(exit!.tm.tmId, registered!.tmId);
    t.equal(exit!.signal, null, "it exited on SIGTERM by itself (no SIGKILL needed)");
    t.ok(
      events.items.some((e) => e.event === "sigterm"),
      "it was asked with SIGTERM",
    );
    // Not before the idle timeout: asserted on an injected clock in slot_manager.test.ts.
    await rm.settled();
    const left = (await unwrap(client.taskmanagers.$get())).taskmanagers.map((tm) => tm.tmId);
    t.same(left, ["tm-static"], "released and unregistered; the static TaskManager stays");
    t.same(driver.running(), []);
  },
);

t.test("a TaskManager that ignores SIGTERM is killed; stop() ends every child", async (t) => {
  const { nc, events, exits, driver } = await setup(t, {
    extraEnv: { FAKE_TM_IGNORE_SIGTERM: "1" },
    stopGraceMs: 300,
  });
  // The processes register at an RM before they count as up.
  const rm = createResourceManager({ nc, clusterId, token: 1 });
  await rm.start();
  t.teardown(() => rm.stop());

  await driver.startTaskManager(profile(1, 256));
  await driver.startTaskManager(ANY_PROFILE);
  const registered = await events.waitFor(
    (e) => e.filter((x) => x.event === "registered").length === 2,
    "both processes to register",
    20_000,
  );
  t.same(
    registered.map((e) => e.profile!.memoryMb).sort((a, b) => a - b),
    [256, 1024],
    "ANY starts the default profile (1 cpu, 1024 MB)",
  );
  const [first, second] = driver.running();
  t.equal(await driver.stopTaskManager(first!.tmId), true);
  t.match(
    exits.items,
    [{ tm: { tmId: first!.tmId }, signal: "SIGKILL" }],
    "killed after the grace",
  );
  t.equal(await driver.stopTaskManager(first!.tmId), false, "gone: no longer the driver's");
  await driver.stop();
  t.match(exits.items[1], { tm: { tmId: second!.tmId }, signal: "SIGKILL" });
  t.same(driver.running(), []);
});
