/** The shared poll helper: what it returns, what counts as "not yet", and what its failure says. */
import t from "tap";
import { until } from "../../support/poll.ts";

t.test("resolves with the first answer that is neither undefined nor false", async (t) => {
  let asked = 0;
  const found = await until(
    async () => {
      asked++;
      if (asked === 1) return undefined;
      if (asked === 2) return false;
      if (asked === 3) throw new Error("not up yet");
      return { asked };
    },
    "the fourth answer",
    { intervalMs: 1 },
  );
  t.same(found, { asked: 4 }, "undefined, false and a throw all mean: ask again");
});

t.test("past the deadline it names what never happened and the last answer", async (t) => {
  await t.rejects(
    until(() => false, "the job running", { timeoutMs: 30, intervalMs: 5 }),
    { message: /^the job running never happened within 30 ms; last seen: false$/ },
  );
  let n = 0;
  await t.rejects(
    until(
      () => {
        n++;
        throw new Error(`refused ${n}`);
      },
      "/healthz answering",
      { timeoutMs: 30, intervalMs: 5 },
    ),
    { message: /^\/healthz answering never happened within 30 ms; last error: refused \d+$/ },
  );
  t.ok(n > 1, "it asked more than once");
});
