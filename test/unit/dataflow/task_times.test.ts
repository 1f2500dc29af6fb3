/** A task's busy, idle and back-pressured time, counted at its waits (an injected clock). */
import t from "tap";
import { TaskTimes } from "../../../components/dataflow/runtime/task_times.ts";

t.test("waits for input are idle, waits for credit back-pressured, the rest busy", async (t) => {
  let now = 1000;
  const times = new TaskTimes(() => now);
  t.same(times.totals(), { busyMs: 0, idleMs: 0, backPressuredMs: 0 }, "not running yet");
  times.running();
  now += 30; // busy
  let release!: () => void;
  const input = times.timed(new Promise<void>((r) => (release = r)), false);
  now += 50;
  t.same(
    times.totals(),
    { busyMs: 30, idleMs: 50, backPressuredMs: 0 },
    "a wait in progress counts",
  );
  release();
  await input;
  now += 20; // busy
  let grant!: () => void;
  const credit = times.timed(new Promise<void>((r) => (grant = r)), true);
  now += 40;
  grant();
  await credit;
  t.same(times.totals(), { busyMs: 50, idleMs: 50, backPressuredMs: 40 });
});

t.test("a failed wait is counted too", async (t) => {
  let now = 0;
  const times = new TaskTimes(() => now);
  times.running();
  let fail!: (err: Error) => void;
  const failing = times.timed(new Promise((_, reject) => (fail = reject)), false);
  now += 10;
  fail(new Error("canceled"));
  await t.rejects(failing, /canceled/);
  t.equal(times.totals().idleMs, 10);
});
