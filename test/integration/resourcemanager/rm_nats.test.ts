/** The ResourceManager over a real nats-server, with fake TaskManagers and JobManagers. */

import type { NatsConnection } from "@nats-io/transport-node";
import t from "tap";
import { newJobId, slotId, subjects } from "../../../components/core/mod.ts";
import type { ResourceManagerApp } from "../../../components/protocol/mod.ts";
import {
  createResourceManager,
  profile,
  type ResourceManagerConfig,
} from "../../../components/resourcemanager/mod.ts";
import { createClient, natsTransport, serveNats, unwrap } from "../../../components/rpc/mod.ts";
import { fakeJobManager } from "../../support/fake_jm.ts";
import { type FakeTaskManager, fakeTaskManager } from "../../support/fake_tm.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

interface Teardown {
  teardown(fn: () => unknown): void;
}

const small = profile(1, 1024);
const gpu = profile(2, 2048, { gpu: 1 });

async function cluster(t: Teardown, config: ResourceManagerConfig = {}) {
  const server = await natsFor(t);
  const rmConnection = await connectFor(t, server);
  const nc = await connectFor(t, server);
  const clusterId = "it";
  const rm = createResourceManager({ nc: rmConnection, clusterId, token: 3, config });
  await rm.start();
  t.teardown(() => rm.stop());
  const client = createClient<ResourceManagerApp>(
    natsTransport(nc, subjects.resourceManager(clusterId)),
  );
  return {
    rm,
    nc,
    client,
    /** Serves a fake TaskManager on its subject and registers it, as a TaskManager does. */
    async taskManager(options: Parameters<typeof fakeTaskManager>[0]) {
      const tm = fakeTaskManager({
        subject: subjects.taskManager(clusterId, options.tmId),
        ...options,
      });
      const served = serveNats(tm.app, { nc, subject: tm.subject });
      t.teardown(() => served.stop());
      await nc.flush();
      const reply = await unwrap(client.taskmanagers.$post({ json: tm.registration() }));
      return { tm, served, reply };
    },
    async jobManager(name: string) {
      const jm = fakeJobManager(subjects.jobManager(clusterId, name));
      const served = serveNats(jm.app, { nc, subject: jm.subject });
      t.teardown(() => served.stop());
      await nc.flush();
      return jm;
    },
  };
}

const heartbeatsAfter = (tm: FakeTaskManager, n: number) => {
  const from = tm.heartbeats.items.length;
  return tm.heartbeats.waitFor((h) => h.length >= from + n, `${n} more heartbeats`);
};

async function overview(nc: NatsConnection) {
  const client = createClient<ResourceManagerApp>(
    natsTransport(nc, subjects.resourceManager("it")),
  );
  return await unwrap(client.overview.$get());
}

t.test("TaskManagers register over NATS and requirements reach the right one", async (t) => {
  const { client, nc, taskManager, jobManager } = await cluster(t, {
    heartbeatIntervalMs: 50,
    heartbeatTimeoutMs: 5000,
  });
  const a = await taskManager({ tmId: "tm-a", slots: [small, small] });
  const b = await taskManager({ tmId: "tm-b", slots: [gpu] });
  t.same(a.reply, { rmToken: 3, heartbeatIntervalMs: 50, heartbeatTimeoutMs: 5000 });
  await heartbeatsAfter(a.tm, 2);
  await heartbeatsAfter(b.tm, 2);

  const jm = await jobManager("j1");
  const job = newJobId();
  await unwrap(
    client.jobs[":jobId"].requirements.$put({
      param: { jobId: job },
      json: {
        jmSubject: jm.subject,
        requirements: [
          { profile: profile(1, 512, { gpu: 1 }), count: 1 },
          { profile: small, count: 2 },
        ],
      },
    }),
  );
  const [onB] = await b.tm.allocations.waitFor((x) => x.length === 1, "the GPU slot");
  t.match(onB, { slotId: slotId(b.tm.tmId, 0), jobId: job, jmSubject: jm.subject, profile: gpu });
  const onA = await a.tm.allocations.waitFor((x) => x.length === 2, "both small slots");
  t.same(onA.map((x) => x.slotId).sort(), [slotId(a.tm.tmId, 0), slotId(a.tm.tmId, 1)]);
  t.equal(new Set([...onA, onB].map((x) => x!.allocationId)).size, 3, "three allocations");
  t.match(await overview(nc), {
    taskmanagers: 2,
    slotsTotal: 3,
    slotsFree: 0,
    pendingRequirements: 0,
  });
  t.same(jm.unavailable.items, [], "nothing missing");

  // The job ends: requirements dropped, one slot freed; the RM learns it from the heartbeat.
  await unwrap(client.jobs[":jobId"].$delete({ param: { jobId: job } }));
  a.tm.free(slotId(a.tm.tmId, 0));
  await heartbeatsAfter(a.tm, 2);
  t.match(await overview(nc), { slotsFree: 1, jobs: 0 });
});

t.test(
  "a TaskManager that stops serving is lost within two heartbeats; its JobManager is told",
  async (t) => {
    const intervalMs = 100;
    const { client, nc, taskManager, jobManager } = await cluster(t, {
      heartbeatIntervalMs: intervalMs,
      heartbeatTimeoutMs: 10_000,
    });
    const a = await taskManager({ tmId: "tm-a", slots: [small] });
    const jm = await jobManager("j2");
    const job = newJobId();
    await unwrap(
      client.jobs[":jobId"].requirements.$put({
        param: { jobId: job },
        json: { jmSubject: jm.subject, requirements: [{ profile: small, count: 1 }] },
      }),
    );
    await a.tm.allocations.waitFor((x) => x.length === 1, "the allocation");
    await heartbeatsAfter(a.tm, 1);

    const b = await taskManager({ tmId: "tm-b", slots: [] });
    await a.served.stop();
    const [lost] = await jm.lost.waitFor((l) => l.length === 1, "the loss notice");
    // The reason shows the way it was found: no-responders, not the 10 s heartbeat timeout.
    t.match(lost, { tmId: "tm-a", reason: /unreachable 2 times in a row/ });
    t.match(await overview(nc), { taskmanagers: 1, pendingRequirements: 1 });
    t.same(
      (await unwrap(client.taskmanagers.$get())).taskmanagers.map((tm) => tm.tmId),
      [b.tm.tmId],
    );
  },
);

t.test("a TaskManager the RM forgot is told so on its heartbeat", async (t) => {
  const { client, taskManager } = await cluster(t, { heartbeatIntervalMs: 1000 });
  const a = await taskManager({ tmId: "tm-a", slots: [small] });
  const beat = () =>
    unwrap(
      client.taskmanagers[":tmId"].heartbeat.$put({
        param: { tmId: a.tm.tmId },
        json: { slots: a.tm.report() },
      }),
    );
  t.same(await beat(), { known: true });
  await unwrap(client.taskmanagers[":tmId"].$delete({ param: { tmId: a.tm.tmId } }));
  t.same(await beat(), { known: false });
});
