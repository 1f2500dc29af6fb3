import t from "tap";
import { TimeoutError } from "../../../components/core/mod.ts";
import { HeartbeatMonitor, NoRespondersError } from "../../../components/rpc/mod.ts";

// The ping functions here stand in for a target's replies so each outcome can be chosen; the
// integration test drives the same monitor against a real block over real NATS.

function lostOnce() {
  let resolve!: (v: { id: string; reason: string; at: number }) => void;
  const lost = new Promise<{ id: string; reason: string; at: number }>((r) => (resolve = r));
  return {
    lost,
    onLost: (id: string, _t: unknown, reason: string) => resolve({ id, reason, at: Date.now() }),
  };
}

t.test("answered pings keep a target alive past its timeout", async (t) => {
  let pings = 0;
  let lost = false;
  const monitor = new HeartbeatMonitor({
    intervalMs: 10,
    timeoutMs: 40,
    ping: async () => {
      pings++;
    },
    onLost: () => {
      lost = true;
    },
  });
  t.teardown(() => monitor.stop());
  monitor.monitor("tm-1", {});
  await new Promise((r) => setTimeout(r, 150));
  t.notOk(lost);
  t.ok(pings >= 5, `pinged ${pings} times`);
  t.same(monitor.ids(), ["tm-1"]);
});

t.test("a silent target is lost after the timeout, once", async (t) => {
  const { lost, onLost } = lostOnce();
  let calls = 0;
  const monitor = new HeartbeatMonitor({
    intervalMs: 10,
    timeoutMs: 60,
    ping: () => new Promise<void>(() => {}),
    onLost: (...args) => {
      calls++;
      onLost(...args);
    },
  });
  t.teardown(() => monitor.stop());
  const start = Date.now();
  monitor.monitor("tm-2", {});
  const result = await lost;
  t.equal(result.id, "tm-2");
  t.match(result.reason, /no heartbeat for \d+ ms \(timeout 60 ms\)/);
  t.ok(result.at - start >= 60, "not before the timeout");
  await new Promise((r) => setTimeout(r, 50));
  t.equal(calls, 1);
  t.notOk(monitor.has("tm-2"));
});

t.test("two no-responders in a row count as lost at once, long before the timeout", async (t) => {
  const { lost, onLost } = lostOnce();
  const monitor = new HeartbeatMonitor({
    intervalMs: 10,
    timeoutMs: 10_000,
    ping: () => Promise.reject(new NoRespondersError("no service is listening on tm.x")),
    onLost,
  });
  t.teardown(() => monitor.stop());
  const start = Date.now();
  monitor.monitor("tm-3", {});
  const result = await lost;
  t.ok(result.at - start < 1000);
  t.match(result.reason, /unreachable 2 times in a row/);
});

t.test("timeouts alone do not count as unreachable; a success resets the count", async (t) => {
  let n = 0;
  let lost = false;
  const monitor = new HeartbeatMonitor({
    intervalMs: 10,
    timeoutMs: 10_000,
    // unavailable, ok, unavailable, ok, ... and timeouts in between: never two unreachable in a row.
    ping: () => {
      n++;
      if (n % 3 === 0) return Promise.reject(new TimeoutError("slow"));
      return n % 3 === 1 ? Promise.reject(new NoRespondersError("gone")) : Promise.resolve();
    },
    onLost: () => {
      lost = true;
    },
  });
  t.teardown(() => monitor.stop());
  monitor.monitor("tm-4", {});
  await new Promise((r) => setTimeout(r, 200));
  t.notOk(lost);
  t.ok(n >= 6);
});

t.test("received() counts as a heartbeat; unmonitor stops watching", async (t) => {
  let lost = false;
  const monitor = new HeartbeatMonitor({
    intervalMs: 10,
    timeoutMs: 50,
    ping: () => new Promise<void>(() => {}),
    onLost: () => {
      lost = true;
    },
  });
  t.teardown(() => monitor.stop());
  monitor.monitor("tm-5", {});
  const feeder = setInterval(() => monitor.received("tm-5"), 10);
  await new Promise((r) => setTimeout(r, 150));
  clearInterval(feeder);
  t.notOk(lost, "pushed heartbeats kept it alive");
  monitor.unmonitor("tm-5");
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(lost, "unmonitored targets are never reported");
});

t.test("a monitor that was paused itself does not blame its targets for the pause", async (t) => {
  let answering = true;
  const { lost, onLost } = lostOnce();
  let lostEarly = false;
  const monitor = new HeartbeatMonitor({
    intervalMs: 10,
    timeoutMs: 60,
    ping: () => (answering ? Promise.resolve() : new Promise<void>(() => {})),
    onLost: (...args) => {
      if (answering) lostEarly = true;
      onLost(...args);
    },
  });
  t.teardown(() => monitor.stop());
  monitor.monitor("tm-1", {});
  await new Promise((r) => setTimeout(r, 30));
  // The process stalls (a SIGSTOP, a blocked event loop) for longer than the timeout: no reply
  // could be read meanwhile.
  const until = Date.now() + 200;
  while (Date.now() < until) {}
  await new Promise((r) => setTimeout(r, 40));
  t.notOk(lostEarly, "not lost for the monitor's own pause");
  t.ok(monitor.has("tm-1"));
  answering = false;
  const silentSince = Date.now();
  const result = await lost;
  t.ok(result.at - silentSince >= 50, "a target silent for the timeout afterwards is still lost");
});
