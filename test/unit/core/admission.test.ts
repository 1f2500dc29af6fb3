/** Admission: at most `max` calls in flight; one more is refused with 429 before it runs. */
import t from "tap";
import { Admission, ErrorCode, RateLimit } from "../../../components/core/mod.ts";

t.test("past max in flight a call is refused before it runs; a slot freed is reused", async (t) => {
  const gate = new Admission(2, "submissions");
  const releases: (() => void)[] = [];
  let ran = 0;
  const work = () =>
    gate.admit(() => {
      ran++;
      return new Promise<void>((resolve) => releases.push(resolve));
    });
  const first = work();
  const second = work();
  await t.rejects(work(), {
    code: ErrorCode.TOO_MANY_REQUESTS,
    message: "2 submissions are in progress already: try again shortly",
  });
  t.equal(ran, 2, "the refused call never ran");
  t.equal(gate.inFlight, 2);
  releases.shift()!();
  await first;
  const third = work();
  t.equal(ran, 3, "the freed slot admits the next call");
  for (const release of releases) release();
  await Promise.all([second, third]);
  t.equal(gate.inFlight, 0);
  await t.rejects(
    gate.admit(() => Promise.reject(new Error("boom"))),
    /boom/,
  );
  t.equal(gate.inFlight, 0, "a failed call frees its slot");
});

t.test("a rate limit lets a burst through, then the rate, and refuses the rest", async (t) => {
  let now = 0;
  const limit = new RateLimit(10, 3, "new artifacts", () => now);
  for (let i = 0; i < 3; i++) limit.take();
  t.throws(() => limit.take(), {
    code: ErrorCode.TOO_MANY_REQUESTS,
    message: "more than 10 new artifacts a second: try again shortly",
  });
  now += 100;
  limit.take();
  t.throws(() => limit.take(), { code: ErrorCode.TOO_MANY_REQUESTS }, "one token per 100 ms");
  now += 60_000;
  for (let i = 0; i < 3; i++) limit.take();
  t.throws(() => limit.take(), { code: ErrorCode.TOO_MANY_REQUESTS }, "the burst does not grow");
});
