import t from "tap";
import { restartPolicy } from "../../../components/dataflow/internal_mod.ts";

t.test("none never restarts", (t) => {
  t.match(restartPolicy({ type: "none" }).onFailure(0), { restart: false, reason: /'none'/ });
  t.end();
});

t.test("fixed-delay restarts `attempts` times with the same delay", (t) => {
  const p = restartPolicy({ type: "fixed-delay", attempts: 2, delayMs: 50 });
  t.same(p.onFailure(0), { restart: true, delayMs: 50 });
  t.same(p.onFailure(1), { restart: true, delayMs: 50 });
  t.match(p.onFailure(2), { restart: false, reason: /2 restart attempts used up/ });
  t.end();
});

t.test("exponential-delay doubles up to the cap and resets after a quiet period", (t) => {
  const p = restartPolicy({
    type: "exponential-delay",
    initialDelayMs: 100,
    maxDelayMs: 350,
    multiplier: 2,
    resetAfterMs: 10_000,
  });
  t.same(
    [0, 1, 2, 3].map((n) => p.onFailure(n).delayMs),
    [100, 200, 350, 350],
  );
  t.equal(p.onFailure(20_000).delayMs, 100, "a long healthy run resets the backoff");
  const limited = restartPolicy({ type: "exponential-delay", attempts: 1 });
  t.equal(limited.onFailure(0).restart, true);
  t.equal(limited.onFailure(1).restart, false);
  t.end();
});

t.test("failure-rate allows maxFailures per interval", (t) => {
  const p = restartPolicy({ type: "failure-rate", maxFailures: 2, intervalMs: 1000, delayMs: 5 });
  t.equal(p.onFailure(0).restart, true);
  t.equal(p.onFailure(500).restart, true);
  t.match(p.onFailure(900), { restart: false, reason: /more than 2 failures within 1000 ms/ });
  const q = restartPolicy({ type: "failure-rate", maxFailures: 2, intervalMs: 1000, delayMs: 5 });
  q.onFailure(0);
  q.onFailure(500);
  t.equal(q.onFailure(1600).restart, true, "old failures leave the window");
  t.end();
});
