/**
 * The TaskManager and its ResourceManager, in-process: it registers and learns the RM's token
 * (a call from an older RM is refused), heartbeats its slot table, registers again when the RM
 * forgot it, reports a freed slot at once, and waiting for a registration has a deadline.
 */
import t from "tap";
import { ErrorCode, TimeoutError } from "../../../components/core/mod.ts";
import { until } from "../../support/poll.ts";
import { ANY, fakeResourceManager, JM, JOB, TM, taskManagerFor } from "./fixtures.ts";

t.test(
  "registers, follows the RM's token, heartbeats, and registers again when forgotten",
  async (t) => {
    const { tm, peers, request } = await taskManagerFor(t, { heartbeatIntervalMs: 20 });
    const rm = fakeResourceManager(5);
    peers.set(rm.subject, rm.app);
    tm.start();
    await tm.whenRegistered(5000);
    t.ok(tm.isRegistered());
    t.match(rm.registrations.items[0], {
      tmId: TM,
      subject: tm.subject,
      slots: [{ state: "free" }, { state: "free" }],
      totalResources: ANY,
    });
    t.match(await request("GET", "/healthz"), { body: { registered: true } });
    t.match(
      await request("GET", "/heartbeat", { token: 4 }),
      { status: 409, body: { code: ErrorCode.STALE_LEADER } },
      "an RM older than the one it registered at is refused",
    );
    await rm.heartbeats.waitFor((h) => h.length >= 2, "heartbeats with the slot table");
    t.match(rm.heartbeats.items[0], { tmId: TM, slots: [{ slotId: `${TM}_0` }, {}] });

    rm.state.known = false;
    await rm.registrations.waitFor((r) => r.length === 2, "a second registration");
    t.pass("the RM forgot it: registered again");
  },
);

t.test("a registration answered by an older RM is refused; the next RM's is taken", async (t) => {
  const { tm, peers, request } = await taskManagerFor(t, { heartbeatIntervalMs: 20 });
  t.equal((await request("GET", "/heartbeat", { token: 7 })).status, 200, "RM 7 heartbeats first");
  const rm = fakeResourceManager(6);
  peers.set(rm.subject, rm.app);
  tm.start();
  await rm.registrations.waitFor((r) => r.length >= 2, "registrations retried");
  t.notOk(tm.isRegistered(), "not registered at a stale RM");
  rm.state.token = 8;
  await tm.whenRegistered(5000);
  t.equal((await request("GET", "/heartbeat", { token: 7 })).status, 409, "8 is current now");
});

t.test("a slot freed reaches the RM at once, not at the next heartbeat", async (t) => {
  // No periodic heartbeat within the test: the one that comes is the slot change's.
  const { tm, peers, request } = await taskManagerFor(t);
  const rm = fakeResourceManager(1);
  peers.set(rm.subject, rm.app);
  tm.start();
  await tm.whenRegistered(5000);
  await request("POST", `/slots/${TM}_0/allocate`, {
    json: { jobId: JOB, allocationId: "alloc-1", jmSubject: JM, profile: ANY },
    token: 1,
  });
  await until(() => tm.slots()[0]?.state === "active", "the slot active");
  t.equal(rm.heartbeats.items.length, 0);
  await request("POST", `/slots/${TM}_0/free`, { json: { allocationId: "alloc-1" } });
  const [report] = await rm.heartbeats.waitFor((h) => h.length === 1, "the slot report");
  t.match(report?.slots[0], { slotId: `${TM}_0`, state: "free" });
});

t.test("waiting for a registration ends at its deadline, naming the RM", async (t) => {
  const { tm } = await taskManagerFor(t, { heartbeatIntervalMs: 20 });
  tm.start();
  const error = await tm.whenRegistered(100).catch((e: unknown) => e);
  t.ok(error instanceof TimeoutError);
  t.match(
    (error as Error).message,
    /TaskManager tm-u did not register at the ResourceManager \(flotilla\.t\.resourcemanager\) within 100 ms; last error: no service is listening/,
  );
});
