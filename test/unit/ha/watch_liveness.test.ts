/** WatchLiveness on a manual clock: waiters resolve when the watch is live, time out, or fail once it ended. */
import t from "tap";
import { ErrorCode } from "../../../components/core/mod.ts";
import { WatchLiveness } from "../../../components/ha/watch_liveness.ts";
import { ManualClock } from "../../support/clock.ts";

t.test("a waiter resolves when the watch becomes live; a live watch answers at once", async (t) => {
  const clock = new ManualClock();
  const watch = new WatchLiveness(clock, "the watch of rm's lease");
  let live = false;
  const waiting = watch.whenLive(1000).then(() => {
    live = true;
  });
  await clock.advance(500);
  t.notOk(live, "not before it is established");
  watch.set(true);
  await waiting;
  t.ok(live);
  t.equal(clock.pending(), 0, "its deadline timer is gone");
  await watch.whenLive(1000);
  t.pass("already live: at once");
});

t.test("a lapsed watch is waited for again; the wait has a deadline", async (t) => {
  const clock = new ManualClock();
  const watch = new WatchLiveness(clock, "the watch of rm's lease");
  watch.set(true);
  watch.set(false); // the connection went away
  const late = t.rejects(watch.whenLive(1000), {
    code: ErrorCode.TIMEOUT,
    message: /the watch of rm's lease was not live within 1000 ms/,
  });
  await clock.advance(1000);
  await late;
});

t.test("once ended, waiters fail and later waits fail at once", async (t) => {
  const clock = new ManualClock();
  const watch = new WatchLiveness(clock, "the watch of rm's lease");
  const waiting = watch.whenLive(60_000);
  watch.end("the election was stopped");
  await t.rejects(waiting, { code: ErrorCode.CONFLICT, message: /election was stopped/ });
  t.equal(clock.pending(), 0, "no timer left");
  await t.rejects(watch.whenLive(60_000), { code: ErrorCode.CONFLICT });
});
