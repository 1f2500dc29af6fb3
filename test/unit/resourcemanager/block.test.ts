/** The RM block in-process: routes with app.request, and its calls to fake TMs and JMs. */

import t from "tap";
import {
  ErrorCode,
  type JobId,
  NotFoundError,
  newJobId,
  slotId,
  type TaskManagerId,
} from "../../../components/core/mod.ts";
import {
  type ResourceManagerApp,
  type ResourceProfile,
  RM_FENCING_SCOPE,
} from "../../../components/protocol/mod.ts";
import {
  createResourceManager,
  profile,
  type ResourceDriver,
  type ResourceManagerConfig,
} from "../../../components/resourcemanager/mod.ts";
import {
  createClient,
  FencingTokens,
  type FetchApp,
  localTransport,
  NoRespondersError,
  type Transport,
  unwrap,
} from "../../../components/rpc/mod.ts";
import { fakeJobManager } from "../../support/fake_jm.ts";
import { type FakeTaskManager, fakeTaskManager, Recorder } from "../../support/fake_tm.ts";
import { clock } from "./fixtures.ts";

interface Teardown {
  teardown(fn: () => unknown): void;
}

const small = profile(1, 1024);

/** An RM whose peers are in-process apps; a subject without an app has "no responders". */
function setup(
  t: Teardown,
  options: { driver?: ResourceDriver; config?: ResourceManagerConfig; now?: () => number } = {},
) {
  const peers = new Map<string, FetchApp>();
  const transportFor = (subject: string): Transport => ({
    target: subject,
    send: (request, timeoutMs) => {
      const app = peers.get(subject);
      if (!app)
        return Promise.reject(new NoRespondersError(`no service is listening on ${subject}`));
      return localTransport(app, subject).send(request, timeoutMs);
    },
  });
  const rm = createResourceManager({ transportFor, clusterId: "t", token: 7, ...options });
  t.teardown(() => rm.stop());
  const client = createClient<ResourceManagerApp>(localTransport(rm.app));
  return {
    rm,
    peers,
    client,
    serve<P extends { subject: string; app: FetchApp }>(peer: P): P {
      peers.set(peer.subject, peer.app);
      return peer;
    },
    async register(tm: FakeTaskManager) {
      peers.set(tm.subject, tm.app);
      return await unwrap(client.taskmanagers.$post({ json: tm.registration() }));
    },
    declare(
      jobId: JobId,
      jmSubject: string,
      requirements: { profile: ResourceProfile; count: number }[],
    ) {
      return unwrap(
        client.jobs[":jobId"].requirements.$put({
          param: { jobId },
          json: { jmSubject, requirements },
        }),
      );
    },
  };
}

const json = (method: string, body: string) => ({
  method,
  headers: { "content-type": "application/json" },
  body,
});

t.test("healthz and an empty overview", async (t) => {
  const { rm } = setup(t);
  const health = await rm.app.request("/healthz");
  t.same(await health.json(), { status: "ok", role: "resourcemanager", clusterId: "t" });
  const overview = await (await rm.app.request("/overview")).json();
  t.match(overview, {
    taskmanagers: 0,
    slotsTotal: 0,
    slotsFree: 0,
    pendingRequirements: 0,
    jobs: 0,
  });
});

t.test("register, list, heartbeat, unregister; unknown TaskManagers", async (t) => {
  const { rm, client, register } = setup(t, {
    config: { heartbeatIntervalMs: 250, heartbeatTimeoutMs: 2000 },
  });
  const tm = fakeTaskManager({ tmId: "tm-a", slots: [small, small] });
  t.same(await register(tm), { rmToken: 7, heartbeatIntervalMs: 250, heartbeatTimeoutMs: 2000 });
  const listed = await unwrap(client.taskmanagers.$get());
  t.match(listed.taskmanagers, [{ tmId: "tm-a", subject: "t.tm.tm-a", slots: [{}, {}] }]);
  t.match(await unwrap(client.taskmanagers[":tmId"].$get({ param: { tmId: "tm-a" } })), {
    freeResources: profile(2, 2048),
  });
  t.match(await unwrap(client.overview.$get()), { taskmanagers: 1, slotsTotal: 2, slotsFree: 2 });

  const beat = (tmId: string) =>
    unwrap(
      client.taskmanagers[":tmId"].heartbeat.$put({
        param: { tmId },
        json: { slots: tm.report() },
      }),
    );
  t.same(await beat("tm-a"), { known: true });
  t.same(await beat("tm-zz"), { known: false }, "unknown: the TaskManager registers again");

  const missing = await rm.app.request("/taskmanagers/tm-zz");
  t.equal(missing.status, 404);
  t.match(await missing.json(), { code: ErrorCode.NOT_FOUND, errors: [/tm-zz is not registered/] });
  const gone = await rm.app.request("/taskmanagers/tm-zz", { method: "DELETE" });
  t.equal(gone.status, 404);
  t.match(await gone.json(), { code: ErrorCode.NOT_FOUND });

  t.same(await unwrap(client.taskmanagers[":tmId"].$delete({ param: { tmId: "tm-a" } })), {
    tmId: "tm-a",
    jobs: [],
  });
  await t.rejects(
    unwrap(client.taskmanagers[":tmId"].$delete({ param: { tmId: "tm-a" } })),
    NotFoundError,
  );
  t.match(await unwrap(client.overview.$get()), { taskmanagers: 0 });
});

const registration = JSON.stringify(
  fakeTaskManager({ tmId: "tm-v", slots: [small] }).registration(),
);
const badRequests: [string, string, RequestInit, RegExp][] = [
  ["malformed JSON", "/taskmanagers", json("POST", "{nope"), /malformed application\/json body/],
  [
    "unknown field",
    "/taskmanagers",
    json("POST", registration.replace("{", '{"color":"red",')),
    /color/,
  ],
  [
    "wrong type",
    "/taskmanagers",
    json("POST", registration.replace('"totalResources":{"cpu":1', '"totalResources":{"cpu":"1"')),
    /'totalResources\.cpu': .*expected number/,
  ],
  [
    "bad TaskManager id",
    "/taskmanagers",
    json("POST", registration.replace('"tmId":"tm-v"', '"tmId":"tm v"')),
    /'tmId': expected a TaskManager id/,
  ],
  [
    "a slot twice",
    "/taskmanagers",
    json(
      "POST",
      JSON.stringify({
        ...JSON.parse(registration),
        slots: [0, 0].map(() => ({ slotId: "tm-v_0", index: 0, profile: small, state: "free" })),
      }),
    ),
    /appears twice/,
  ],
  [
    "an allocated slot without its job",
    "/taskmanagers/tm-v/heartbeat",
    json(
      "PUT",
      JSON.stringify({ slots: [{ slotId: "tm-v_0", index: 0, profile: small, state: "active" }] }),
    ),
    /'slots\.0\.jobId': a active slot needs its jobId/,
  ],
  [
    "bad job id",
    "/jobs/not-a-job/requirements",
    json("PUT", JSON.stringify({ jmSubject: "t.jm", requirements: [] })),
    /path: .*32 lowercase hex digits/,
  ],
  [
    "negative count",
    `/jobs/${newJobId()}/requirements`,
    json(
      "PUT",
      JSON.stringify({ jmSubject: "t.jm", requirements: [{ profile: small, count: -1 }] }),
    ),
    /'requirements\.0\.count'/,
  ],
  [
    "negative cpu",
    `/jobs/${newJobId()}/requirements`,
    json(
      "PUT",
      JSON.stringify({
        jmSubject: "t.jm",
        requirements: [{ profile: { ...small, cpu: -1 }, count: 1 }],
      }),
    ),
    /'requirements\.0\.profile\.cpu'/,
  ],
  [
    "a subject with spaces",
    `/jobs/${newJobId()}/requirements`,
    json("PUT", JSON.stringify({ jmSubject: "t jm", requirements: [] })),
    /'jmSubject': expected a NATS subject/,
  ],
];

for (const [name, path, init, message] of badRequests) {
  t.test(`bad input: ${name} -> 400 BAD_REQUEST, nothing changes`, async (t) => {
    const { rm } = setup(t);
    const res = await rm.app.request(path, init);
    t.equal(res.status, 400);
    const body = await res.json();
    t.equal(body.code, ErrorCode.BAD_REQUEST);
    t.match(body.errors[0], message);
    t.match(await (await rm.app.request("/overview")).json(), { taskmanagers: 0, jobs: 0 });
  });
}

t.test("requirements: allocate calls reach the right TaskManager, fenced", async (t) => {
  const { rm, client, register, declare } = setup(t);
  const tokens = new FencingTokens();
  const tmA = fakeTaskManager({ tmId: "tm-a", slots: [small], fencingTokens: tokens });
  const tmB = fakeTaskManager({ tmId: "tm-b", slots: [profile(2, 4096, { gpu: 1 })] });
  await register(tmA);
  await register(tmB);
  const job = newJobId();
  const reply = await declare(job, "t.jm.1", [
    { profile: small, count: 1 },
    { profile: profile(1, 512, { gpu: 1 }), count: 1 },
  ]);
  t.equal(reply.jobId, job);
  await rm.settled();
  t.match(tmA.allocations.items, [
    { slotId: slotId("tm-a" as TaskManagerId, 0), jobId: job, jmSubject: "t.jm.1", profile: small },
  ]);
  t.match(tmB.allocations.items, [{ jobId: job, profile: profile(2, 4096, { gpu: 1 }) }]);
  t.equal(tokens.current(RM_FENCING_SCOPE), 7, "the TaskManager saw the RM's fencing token");
  const overview = await unwrap(client.overview.$get());
  t.match(overview, { slotsFree: 0, pendingRequirements: 0, jobs: 1 });
  const tms = (await unwrap(client.taskmanagers.$get())).taskmanagers;
  t.same(
    tms.flatMap((tm) => tm.slots.map((s) => s.pending)),
    [false, false],
    "both allocations confirmed",
  );
});

t.test(
  "too big for the cluster and no driver: the JobManager is told what is missing",
  async (t) => {
    const { rm, serve, register, declare } = setup(t);
    const jm = serve(fakeJobManager("t.jm.big"));
    await register(fakeTaskManager({ tmId: "tm-a", slots: [small] }));
    await declare(newJobId(), jm.subject, [{ profile: profile(8, 1024), count: 2 }]);
    await rm.settled();
    t.same(jm.unavailable.items, [{ missing: [{ profile: profile(8, 1024), count: 2 }] }]);
  },
);

t.test("a TaskManager that refuses: the slot goes elsewhere; a stale RM is refused", async (t) => {
  const { rm, register, declare } = setup(t);
  const stale = new FencingTokens();
  stale.admit(9, RM_FENCING_SCOPE);
  const tmA = fakeTaskManager({ tmId: "tm-a", slots: [small] });
  const tmB = fakeTaskManager({ tmId: "tm-b", slots: [small] });
  const tmC = fakeTaskManager({ tmId: "tm-c", slots: [small], fencingTokens: stale });
  tmA.refuse.add(slotId(tmA.tmId, 0));
  await register(tmA);
  await register(tmB);
  await declare(newJobId(), "t.jm", [{ profile: small, count: 1 }]);
  await rm.settled();
  t.equal(tmA.allocations.items.length, 0);
  t.equal(tmB.allocations.items.length, 1, "allocated on the other TaskManager");

  // A TaskManager that follows a newer RM refuses this one's first heartbeat: not registered.
  await t.rejects(register(tmC), {
    code: ErrorCode.UNAVAILABLE,
    message: /does not answer at t.tm.tm-c \(fencing token 7 .* older than the current leader's 9/,
  });
  await declare(newJobId(), "t.jm2", [{ profile: small, count: 1 }]);
  await rm.settled();
  t.equal(tmC.allocations.items.length, 0, "409 STALE_LEADER: not allocated");
  t.match(rm.slotManager.overview(), { slotsFree: 0, pendingRequirements: 1 }, "no retry loop");
});

t.test(
  "GET /allocations/:allocationId: what the RM allocated, from before the TM is called",
  async (t) => {
    const { rm, client, register, declare } = setup(t);
    const job = newJobId();
    /** The RM's own record of each allocation at the moment its TaskManager is called. */
    const seenWhenCalled: unknown[] = [];
    const tm = fakeTaskManager({
      tmId: "tm-a",
      slots: [small],
      onAllocate: (a) => seenWhenCalled.push(rm.slotManager.allocation(a.allocationId)),
    });
    await register(tm);
    await declare(job, "t.jm", [{ profile: small, count: 1 }]);
    await rm.settled();
    const [made] = tm.allocations.items;
    const slot = slotId("tm-a" as TaskManagerId, 0);
    t.match(seenWhenCalled, [{ allocationId: made!.allocationId, pending: true }]);
    const found = await rm.app.request(`/allocations/${made!.allocationId}`);
    t.equal(found.status, 200);
    t.same(await found.json(), {
      allocationId: made!.allocationId,
      jobId: job,
      tmId: "tm-a",
      slotId: slot,
      tmSubject: tm.subject,
      pending: false,
    });

    const unknown = await rm.app.request("/allocations/alloc-forged");
    t.equal(unknown.status, 404);
    t.match(await unknown.json(), {
      code: ErrorCode.NOT_FOUND,
      errors: [/allocation alloc-forged is not a slot allocation this ResourceManager made/],
    });
    const bad = await rm.app.request("/allocations/not%20an%20id");
    t.equal(bad.status, 400, "a malformed id is bad input");

    // The job freed the slot; once its TaskManager reports so, the allocation is gone.
    tm.free(slot);
    await unwrap(
      client.taskmanagers[":tmId"].heartbeat.$put({
        param: { tmId: "tm-a" },
        json: { slots: tm.report() },
      }),
    );
    const freed = await rm.app.request(`/allocations/${made!.allocationId}`);
    t.equal(freed.status, 404, "freed: no longer vouched for");
  },
);

t.test("DELETE /jobs/:jobId forgets requirements; an unknown job is 404", async (t) => {
  const { rm, client, declare } = setup(t);
  const job = newJobId();
  await declare(job, "t.jm", [{ profile: small, count: 1 }]);
  t.same(await unwrap(client.jobs[":jobId"].$delete({ param: { jobId: job } })), { jobId: job });
  const again = await rm.app.request(`/jobs/${job}`, { method: "DELETE" });
  t.equal(again.status, 404);
  t.match(await again.json(), { code: ErrorCode.JOB_NOT_FOUND });
  t.match(await unwrap(client.overview.$get()), { jobs: 0, pendingRequirements: 0 });
});

t.test("a TaskManager that unregisters with slots in use: the JobManager is told", async (t) => {
  const { rm, client, serve, register, declare } = setup(t);
  const jm = serve(fakeJobManager("t.jm.lost"));
  const tm = fakeTaskManager({ tmId: "tm-a", slots: [small] });
  await register(tm);
  const job = newJobId();
  await declare(job, jm.subject, [{ profile: small, count: 1 }]);
  await rm.settled();
  t.same(await unwrap(client.taskmanagers[":tmId"].$delete({ param: { tmId: "tm-a" } })), {
    tmId: "tm-a",
    jobs: [job],
  });
  await rm.settled();
  t.same(jm.lost.items, [{ tmId: "tm-a", reason: "TaskManager tm-a unregistered" }]);
});

/** A driver whose TaskManagers are in-process fakes that register through the RM's client. */
function fakeDriver(onStart: (profile: ResourceProfile) => Promise<TaskManagerId>) {
  const owned = new Set<TaskManagerId>();
  const stops = new Recorder<TaskManagerId>();
  const driver: ResourceDriver = {
    kind: "fake",
    canStart: (p) => p.cpu <= 4,
    startTaskManager: async (p) => {
      owned.add(await onStart(p));
    },
    stopTaskManager: async (tmId) => {
      stops.push(tmId);
      return owned.delete(tmId);
    },
  };
  return { driver, stops };
}

t.test(
  "a driver starts a TaskManager for what no TaskManager fits, and releases it when idle",
  async (t) => {
    const time = clock(1_000);
    let started: FakeTaskManager | undefined;
    let ctx: ReturnType<typeof setup> | undefined;
    const { driver, stops } = fakeDriver(async (p) => {
      started = fakeTaskManager({ tmId: "tm-new", slots: [p] });
      await ctx!.register(started);
      return started.tmId;
    });
    ctx = setup(t, {
      driver,
      now: time.now,
      config: { heartbeatIntervalMs: 10, heartbeatTimeoutMs: 5000, idleTimeoutMs: 30_000 },
    });
    const { rm, register, declare, client } = ctx;
    await register(fakeTaskManager({ tmId: "tm-static", slots: [small] }));
    await rm.start();

    const job = newJobId();
    await declare(job, "t.jm", [{ profile: profile(2, 2048), count: 1 }]);
    const [allocation] = await started!.allocations.waitFor(
      (a) => a.length === 1,
      "the allocation",
    );
    t.match(allocation, { jobId: job, profile: profile(2, 2048) });

    // The job ends: requirements dropped, the TaskManager frees the slot and says so.
    await unwrap(client.jobs[":jobId"].$delete({ param: { jobId: job } }));
    started!.free(allocation!.slotId);
    await unwrap(
      client.taskmanagers[":tmId"].heartbeat.$put({
        param: { tmId: "tm-new" },
        json: { slots: started!.report() },
      }),
    );
    time.t += 29_000;
    await started!.heartbeats.waitFor((h) => h.length >= 2, "two heartbeats");
    t.same(stops.items, [], "not before the idle timeout");
    time.t += 2_000;
    await stops.waitFor((s) => s.length === 2, "both idle TaskManagers handed to the driver");
    await rm.settled();
    t.same([...stops.items].sort(), ["tm-new", "tm-static"]);
    const tms = (await unwrap(client.taskmanagers.$get())).taskmanagers.map((tm) => tm.tmId);
    t.same(tms, ["tm-static"], "the driver's TaskManager is gone; the static one stays");
  },
);

t.test(
  "requirements and slot tables past their bounds are refused, naming the bound",
  async (t) => {
    const { declare, client } = setup(t);
    const job = newJobId();
    const refused = async (what: Promise<unknown>, pattern: RegExp, why: string) => {
      const err = await what.then(
        () => undefined,
        (e: unknown) => e as { code?: string; message?: string },
      );
      t.equal(err?.code, ErrorCode.BAD_REQUEST, why);
      t.match(err?.message, pattern, why);
    };
    await refused(
      declare(job, "t.jm.1", [{ profile: small, count: 1e9 }]),
      /requirements.0.count.*<=32768/,
      "a count of 1e9 (the message that once took the master down)",
    );
    await refused(
      declare(job, "t.jm.1", [
        { profile: small, count: 20_000 },
        { profile: profile(2, 1024), count: 20_000 },
      ]),
      /at most 32768 slots in all/,
      "two profiles that add up past 32,768",
    );
    await refused(
      declare(
        job,
        "t.jm.1",
        Array.from({ length: 65 }, (_, i) => ({ profile: profile(1, 100 + i), count: 1 })),
      ),
      /64/,
      "65 profiles",
    );
    const tm = fakeTaskManager({ tmId: "tm-many", slots: [small] });
    const registration = tm.registration();
    const slots = Array.from({ length: 1025 }, (_, index) => ({
      ...registration.slots![0]!,
      slotId: slotId("tm-many" as TaskManagerId, index),
      index,
    }));
    await refused(
      unwrap(client.taskmanagers.$post({ json: { ...registration, slots } })),
      /1024/,
      "a TaskManager with 1,025 slots",
    );
    t.equal((await unwrap(client.overview.$get())).jobs, 0, "nothing was declared");
  },
);

t.test(
  "a registration is refused unless the TaskManager answers at its subject, as itself",
  async (t) => {
    const { client, register, serve } = setup(t);
    const ghost = fakeTaskManager({ tmId: "tm-ghost", slots: [small] });
    await t.rejects(
      unwrap(client.taskmanagers.$post({ json: ghost.registration() })),
      { code: ErrorCode.UNAVAILABLE, message: /tm-ghost does not answer at t.tm.tm-ghost/ },
      "nobody serves its subject",
    );
    const other = fakeTaskManager({ tmId: "tm-other", slots: [small] });
    serve({ subject: ghost.subject, app: other.app });
    await t.rejects(
      unwrap(client.taskmanagers.$post({ json: ghost.registration() })),
      { code: ErrorCode.UNAVAILABLE, message: /not TaskManager tm-ghost's/ },
      "another TaskManager answers there",
    );
    await register(ghost);
    t.match(await unwrap(client.overview.$get()), { taskmanagers: 1 }, "the real one registers");
  },
);

t.test("registrations past slotmanager.number-of-slots.max are refused with 429", async (t) => {
  const { client, register } = setup(t, { config: { maxSlots: 3 } });
  await register(fakeTaskManager({ tmId: "tm-a", slots: [small, small] }));
  const over = fakeTaskManager({ tmId: "tm-b", slots: [small, small] });
  await t.rejects(register(over), {
    code: ErrorCode.TOO_MANY_REQUESTS,
    message: /would make 4 slots, over slotmanager.number-of-slots.max \(3\)/,
  });
  await register(fakeTaskManager({ tmId: "tm-c", slots: [small] }));
  await register(fakeTaskManager({ tmId: "tm-a", slots: [small, small] }));
  t.match(
    await unwrap(client.overview.$get()),
    { taskmanagers: 2, slotsTotal: 3 },
    "a TaskManager registering again is not counted twice",
  );
});
