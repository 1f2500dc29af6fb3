/** The arithmetic of Flink's metric query bodies: picking, aggregating, skew, rates. */
import t from "tap";
import {
  aggregated,
  collection,
  RateSampler,
  skew,
} from "../../../components/dispatcher/metric_values.ts";

t.test("collection: ids without get, values as Flink's strings with it", async (t) => {
  const values = { numRestarts: 2, uptime: 1500, load: 0.25 };
  t.same(collection(values), [{ id: "numRestarts" }, { id: "uptime" }, { id: "load" }]);
  t.same(collection(values, ["uptime", "missing", "load"]), [
    { id: "uptime", value: "1500" },
    { id: "load", value: "0.25" },
  ]);
  t.same(collection({ big: 2 ** 53 }, ["big"]), [{ id: "big", value: "9007199254740992" }]);
});

t.test(
  "skew is Flink's: mean absolute deviation over the mean, in percent, at most 100",
  async (t) => {
    t.equal(skew([]), 0);
    t.equal(skew([0, 0]), 0, "a zero mean is no skew");
    t.equal(skew([5, 5, 5]), 0, "even");
    t.equal(skew([0, 10]), 100, "mean 5, deviation 5");
    t.equal(skew([1, 3]), 50, "mean 2, deviation 1");
    t.equal(skew([0, 0, 0, 100]), 100, "capped");
  },
);

t.test("aggregated: each asked id over the components that have it", async (t) => {
  const parts: Record<string, number>[] = [{ a: 1, b: 10 }, { a: 3 }, { a: 5, c: 7 }];
  t.same(aggregated(parts), [{ id: "a" }, { id: "b" }, { id: "c" }], "ids without get");
  t.same(aggregated(parts, ["a", "b", "none"], ["min", "max", "sum", "avg"]), [
    { id: "a", min: 1, max: 5, sum: 9, avg: 3 },
    { id: "b", min: 10, max: 10, sum: 10, avg: 10 },
  ]);
  t.same(aggregated(parts, ["a"]), [
    { id: "a", min: 1, max: 5, avg: 3, sum: 9, skew: (4 / 3 / 3) * 100 },
  ]);
});

t.test("rates between the two latest different reports", async (t) => {
  const sampler = new RateSampler();
  t.same(sampler.rates("k", { n: 100 }, ["n"], 1000), {}, "the first report: no rate yet");
  t.same(sampler.rates("k", { n: 300 }, ["n"], 3000), { n: 100 }, "200 more in 2 s");
  t.same(sampler.rates("k", { n: 300 }, ["n"], 4000), { n: 100 }, "the same report: the same rate");
  t.same(
    sampler.rates("k", { n: 300, m: 1 }, ["n"], 5000),
    { n: 100 },
    "other counters do not matter",
  );
  t.same(sampler.rates("other", { n: 5 }, ["n"], 5000), {}, "by key");
});
