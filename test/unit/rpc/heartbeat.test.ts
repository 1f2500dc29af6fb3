import t from "tap";
import { TimeoutError } from "../../../components/core/mod.ts";
import { HeartbeatMonitor, NoRespondersError } from "../../../components/rpc/mod.ts";
import { ManualClock } from "../../support/clock.ts";

// The ping functions here stand in for a target's replies so each outcome can be chosen, and a
// manual clock stands in for time, so every tick is one the test made; the integration test
// drives the same monitor against a real block over real NATS.

interface Loss {
  id: string;
  reason: string;
  /** The manual clock's time of the loss. */
  at: number;
}

function lossLog(clock: ManualClock) {
  const losses: Loss[] = [];
  return {
    losses,
    onLost: (id: string, _target: unknown, reason: string) => {
      losses.push({ id, reason, at: clock.monotonic() });
    },
  };
}

t.test("answered pings keep a target alive past its timeout, one ping per interval", async (t) => {
  const clock = new ManualClock();
  const { losses, onLost } = lossLog(clock);
  let pings = 0;
  const monitor = new HeartbeatMonitor({
    intervalMs: 10,
    timeoutMs: 40,
    clock,
    ping: async () => {
      pings++;
    },
    onLost,
  });
  t.teardown(() => monitor.stop());
  monitor.monitor("tm-1", {});
  await clock.advance(150);
  t.same(losses, []);
  t.equal(pings, 15, "pinged at every tick");
  t.same(monitor.ids(), ["tm-1"]);
});

t.test("a silent target is lost after the timeout, once", async (t) => {
  const clock = new ManualClock();
  const { losses, onLost } = lossLog(clock);
  const monitor = new HeartbeatMonitor({
    intervalMs: 10,
    timeoutMs: 60,
    clock,
    ping: () => new Promise<void>(() => {}),
    onLost,
  });
  t.teardown(() => monitor.stop());
  monitor.monitor("tm-2", {});
  await clock.advance(60);
  t.same(losses, [], "not lost at the timeout itself");
  await clock.advance(10);
  t.same(losses, [{ id: "tm-2", reason: "no heartbeat for 70 ms (timeout 60 ms)", at: 70 }]);
  await clock.advance(100);
  t.equal(losses.length, 1, "reported once");
  t.notOk(monitor.has("tm-2"));
  t.equal(clock.pending(), 0, "with nothing left to watch, the monitor sets no timer");
});

t.test("two no-responders in a row count as lost at once, long before the timeout", async (t) => {
  const clock = new ManualClock();
  const { losses, onLost } = lossLog(clock);
  let pings = 0;
  const monitor = new HeartbeatMonitor({
    intervalMs: 10,
    timeoutMs: 10_000,
    clock,
    ping: () => {
      pings++;
      return Promise.reject(new NoRespondersError("no service is listening on tm.x"));
    },
    onLost,
  });
  t.teardown(() => monitor.stop());
  monitor.monitor("tm-3", {});
  await clock.advance(10);
  t.same(losses, [], "one no-responders is not enough");
  await clock.advance(10);
  t.equal(pings, 2);
  t.match(losses, [{ id: "tm-3", reason: /unreachable 2 times in a row/, at: 20 }]);
});

t.test("timeouts alone do not count as unreachable; a success resets the count", async (t) => {
  const clock = new ManualClock();
  const { losses, onLost } = lossLog(clock);
  let n = 0;
  const monitor = new HeartbeatMonitor({
    intervalMs: 10,
    timeoutMs: 10_000,
    clock,
    // unavailable, ok, timeout, unavailable, ok, timeout, ...: never two unreachable in a row.
    ping: () => {
      n++;
      if (n % 3 === 0) return Promise.reject(new TimeoutError("slow"));
      return n % 3 === 1 ? Promise.reject(new NoRespondersError("gone")) : Promise.resolve();
    },
    onLost,
  });
  t.teardown(() => monitor.stop());
  monitor.monitor("tm-4", {});
  await clock.advance(200);
  t.same(losses, []);
  t.equal(n, 20);
});

t.test("received() counts as a heartbeat; unmonitor stops watching", async (t) => {
  const clock = new ManualClock();
  const { losses, onLost } = lossLog(clock);
  const monitor = new HeartbeatMonitor({
    intervalMs: 10,
    timeoutMs: 50,
    clock,
    ping: () => new Promise<void>(() => {}),
    onLost,
  });
  t.teardown(() => monitor.stop());
  monitor.monitor("tm-5", {});
  for (let i = 0; i < 15; i++) {
    await clock.advance(10);
    monitor.received("tm-5");
  }
  t.same(losses, [], "pushed heartbeats kept it alive for 150 ms, three timeouts");
  monitor.unmonitor("tm-5");
  await clock.advance(100);
  t.same(losses, [], "unmonitored targets are never reported");
  t.equal(clock.pending(), 0);
});

t.test("a monitor that was paused itself does not blame its targets for the pause", async (t) => {
  const clock = new ManualClock();
  const { losses, onLost } = lossLog(clock);
  let answering = true;
  const monitor = new HeartbeatMonitor({
    intervalMs: 10,
    timeoutMs: 60,
    clock,
    ping: () => (answering ? Promise.resolve() : new Promise<void>(() => {})),
    onLost,
  });
  t.teardown(() => monitor.stop());
  monitor.monitor("tm-1", {});
  await clock.advance(30); // the last answer is read at 30
  // The process stalls (a SIGSTOP, a blocked event loop) for longer than the timeout: no reply
  // could be read meanwhile, and the overdue tick runs once, late, at 230.
  await clock.jump(200);
  t.same(losses, [], "not lost for the monitor's own pause");
  t.ok(monitor.has("tm-1"));
  answering = false; // the ping at 230 was answered; from 240 on the target is silent
  await clock.advance(60);
  t.same(losses, [], "its timeout counts from the end of the pause");
  await clock.advance(10);
  t.same(
    losses,
    [{ id: "tm-1", reason: "no heartbeat for 70 ms (timeout 60 ms)", at: 300 }],
    "a target silent for the timeout after the pause is still lost",
  );
});
