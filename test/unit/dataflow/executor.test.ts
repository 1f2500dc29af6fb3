/**
 * The local executor running whole jobs: operators, keyed state and timers, cancel, failure,
 * backpressure, and the lifecycle's states, restarts, stop and savepoints as a caller sees them.
 */
import t from "tap";
import { JobState } from "../../../components/core/mod.ts";
import {
  type LocalJobStatus,
  memorySnapshotStore,
  runLocal,
  type SnapshotStore,
} from "../../../components/dataflow/internal_mod.ts";
import { defineJob, type Sink, sinks, sources } from "../../../components/dataflow/mod.ts";
import { until } from "../../support/poll.ts";

const sorted = <T>(values: T[]) =>
  [...values].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
const collected = (result: { results: Record<string, unknown[]> }) =>
  Object.values(result.results).flat();

for (const parallelism of [1, 3]) {
  t.test(`map, filter, flatMap at parallelism ${parallelism}`, async (t) => {
    const job = defineJob({ name: "stateless", parallelism }, (env) =>
      env
        .source(sources.collection(["a bb", "ccc", "dd e"]))
        .flatMap((line: string) => line.split(" "))
        .filter((w) => w.length > 1)
        .map((w) => w.toUpperCase())
        .sink(sinks.collect()),
    );
    const result = await runLocal(job.graph()).result;
    t.equal(result.state, JobState.FINISHED);
    t.same(sorted(collected(result)), ["BB", "CCC", "DD"]);
  });
}

t.test("rolling reduce per key emits every update", async (t) => {
  const job = defineJob({ name: "reduce", parallelism: 2 }, (env) =>
    env
      .source(
        sources.collection([
          ["a", 1],
          ["b", 10],
          ["a", 2],
          ["a", 3],
          ["b", 20],
        ] as [string, number][]),
      )
      .keyBy(([k]) => k)
      .reduce(([k, x], [, y]) => [k, x + y])
      .sink(sinks.collect()),
  );
  const result = await runLocal(job.graph()).result;
  const byKey = (k: string) =>
    (collected(result) as [string, number][]).filter(([key]) => key === k).map(([, n]) => n);
  t.same(byKey("a"), [1, 3, 6], "in order per key");
  t.same(byKey("b"), [10, 30]);
});

t.test("keyed process: value, list and map state with event-time timers", async (t) => {
  const events = [
    { user: "ann", page: "home", ts: 1000 },
    { user: "bob", page: "cart", ts: 1005 },
    { user: "ann", page: "cart", ts: 1010 },
    { user: "ann", page: "home", ts: 1020 },
    { user: "bob", page: "pay", ts: 1100 },
    { user: "cid", page: "home", ts: 2000 },
  ];
  const job = defineJob({ name: "sessions", parallelism: 2 }, (env) =>
    env
      .source(sources.collection(events))
      .assignTimestamps((e) => e.ts)
      .keyBy((e) => e.user)
      .process<string>({
        processElement(e, ctx) {
          const count = ctx.state.value<number>("count");
          count.set((count.get() ?? 0) + 1);
          ctx.state.list<string>("pages").add(e.page);
          const visits = ctx.state.map<string, number>("visits");
          visits.set(e.page, (visits.get(e.page) ?? 0) + 1);
          // Report 50 ms (event time) after the key's first event.
          if (count.get() === 1) ctx.timers.registerEventTimeTimer(e.ts + 50);
        },
        onTimer(time, ctx) {
          // Sorted: ann's events come from both source subtasks, in either interleaving.
          const pages = [...ctx.state.list<string>("pages").get()].sort().join(",");
          const visits = ctx.state.map<string, number>("visits").entries().sort();
          ctx.emit(
            `${ctx.key}@${time} n=${ctx.state.value<number>("count").get()} pages=${pages} visits=${JSON.stringify(visits)}`,
          );
        },
      })
      .sink(sinks.collect()),
  );
  const result = await runLocal(job.graph()).result;
  t.equal(result.state, JobState.FINISHED, String(result.error));
  // ann's timer fires at watermark >= 1050: after bob's 1100 arrives she has 3 events; bob's at
  // 1055 (2 events), cid's at 2050 only at end of input (the final watermark).
  t.same(sorted(collected(result)), [
    'ann@1050 n=3 pages=cart,home,home visits=[["cart",1],["home",2]]',
    'bob@1055 n=2 pages=cart,pay visits=[["cart",1],["pay",1]]',
    'cid@2050 n=1 pages=home visits=[["home",1]]',
  ]);
});

t.test("keyed process: processing-time timers fire for the right key", async (t) => {
  const job = defineJob({ name: "ptimers", parallelism: 2 }, (env) =>
    env
      .source(sources.sequence({ keys: 4, perKey: 40, ratePerSecond: 400 }))
      .keyBy((r) => r.key)
      .process<string>({
        processElement(r, ctx) {
          if (r.seq === 0)
            ctx.timers.registerProcessingTimeTimer(ctx.timers.currentProcessingTime() + 20);
        },
        onTimer(_time, ctx) {
          ctx.emit(`${ctx.key}:${ctx.domain}`);
        },
      })
      .sink(sinks.collect()),
  );
  const result = await runLocal(job.graph()).result;
  t.same(sorted(collected(result)), [
    "0:processing",
    "1:processing",
    "2:processing",
    "3:processing",
  ]);
});

t.test("union and broadcast", async (t) => {
  const job = defineJob({ name: "fanout", parallelism: 2 }, (env) => {
    const a = env.source(sources.collection([1, 2]));
    const b = env.source(sources.collection([10]));
    a.union(b)
      .broadcast()
      .map((n) => n * 2)
      .sink(sinks.collect());
  });
  const result = await runLocal(job.graph()).result;
  t.same(
    sorted(collected(result)),
    [2, 2, 20, 20, 4, 4],
    "each of the 2 instances got every record",
  );
});

t.test("cancel stops an unbounded job promptly", async (t) => {
  const job = defineJob({ name: "forever", parallelism: 2 }, (env) =>
    env
      .source(sources.sequence({ keys: 8 }))
      .map((r) => r.seq)
      .sink(sinks.log()),
  );
  const handle = runLocal(job.graph());
  await until(() => (handle.status().vertices[0]?.recordsIn ?? 0) >= 1000, "1000 records in");
  const start = Date.now();
  const result = await handle.cancel();
  t.equal(result.state, JobState.CANCELED);
  t.ok(Date.now() - start < 1000, `canceled in ${Date.now() - start} ms`);
  t.equal(handle.status().state, JobState.CANCELED);
});

t.test(
  "a failing user function fails the job with its message when there is no restart",
  async (t) => {
    const job = defineJob({ name: "boom" }, (env) =>
      env
        .source(sources.collection([1, 2, 3]))
        .map((n) => {
          if (n === 2) throw new Error("bad record 2");
          return n;
        })
        .sink(sinks.collect()),
    );
    const result = await runLocal(job.graph()).result;
    t.equal(result.state, JobState.FAILED);
    t.match(result.error?.message, /bad record 2 \(restart strategy is 'none'\)/);
  },
);

t.test("backpressure: a slow sink bounds what is in flight, and nothing is dropped", async (t) => {
  const seen: number[] = [];
  let inFlightMax = 0;
  let produced = 0;
  const slow: Sink<number> = {
    kind: "slow",
    createWriter: () => {
      let pending: number[] = [];
      return {
        write: (n) => void pending.push(n),
        drain: () => {
          const batch = pending;
          pending = [];
          return new Promise<void>((resolve) =>
            setTimeout(() => {
              seen.push(...batch);
              resolve();
            }, 2),
          );
        },
      };
    },
    describe: () => ({ kind: "slow" }),
  };
  const job = defineJob({ name: "slow-sink", parallelism: 1 }, (env) =>
    env
      .source(sources.sequence({ keys: 1 }))
      .map((r) => {
        produced++;
        inFlightMax = Math.max(inFlightMax, produced - seen.length);
        return r.seq;
      })
      .rebalance()
      .sink(slow),
  );
  const handle = runLocal(job.graph(), { batchSize: 100, channelCredits: 2 });
  await until(() => seen.length >= 5000, "5000 records at the slow sink");
  await handle.cancel();
  // Credits (2) x batch (100) on the channel, one batch at the sink and one being produced.
  t.ok(inFlightMax <= 600, `at most ${inFlightMax} records between source and sink`);
  t.same(
    seen,
    Array.from({ length: seen.length }, (_, i) => i),
    "in order, none lost",
  );
});

t.test(
  "checkpoints that keep expiring fail the attempt: a stuck task costs a restart",
  async (t) => {
    let stuck = true;
    const job = defineJob(
      {
        name: "stuck-once",
        checkpointing: { intervalMs: 50, timeoutMs: 200, tolerableFailures: 1 },
        restartStrategy: { type: "fixed-delay", attempts: 2, delayMs: 10 },
      },
      (env) =>
        env
          .source(sources.collection([1, 2, 3]))
          .keyBy((n: number) => n % 2)
          .process<number>({
            async open() {
              if (!stuck) return;
              stuck = false;
              await new Promise(() => {}); // the first attempt's task never opens
            },
            processElement(n, ctx) {
              ctx.emit(n * 10);
            },
          })
          .sink(sinks.collect()),
    );
    const result = await runLocal(job.graph()).result;
    t.equal(result.state, JobState.FINISHED);
    t.equal(result.restarts, 1, "the stuck attempt was failed once");
    t.same(
      Object.values(result.results)
        .flat()
        .sort((a, b) => Number(a) - Number(b)),
      [10, 20, 30],
    );
  },
);

/** Resolves at the first state change to `state`, with the status then. */
function reaching(state: JobState) {
  let reached!: (status: LocalJobStatus) => void;
  const promise = new Promise<LocalJobStatus>((r) => {
    reached = r;
  });
  return {
    promise,
    onStateChange: (status: LocalJobStatus) => {
      if (status.state === state) reached(status);
    },
  };
}

t.test("a failure and a restart, as the job's states in order", async (t) => {
  let failed = false;
  const job = defineJob(
    { name: "fail-once", restartStrategy: { type: "fixed-delay", attempts: 1, delayMs: 1 } },
    (env) =>
      env
        .source(sources.collection([1, 2, 3]))
        .map((n) => {
          if (n === 2 && !failed) {
            failed = true;
            throw new Error("once");
          }
          return n;
        })
        .sink(sinks.collect()),
  );
  const states: string[] = [];
  const attempts: number[] = [];
  const handle = runLocal(job.graph(), {
    onStateChange: (s) => {
      states.push(s.state);
      attempts.push(s.attempt);
    },
  });
  const result = await handle.result;
  t.same(states, [
    JobState.RUNNING,
    JobState.FAILING,
    JobState.RESTARTING,
    JobState.RUNNING,
    JobState.FINISHED,
  ]);
  t.same(attempts, [0, 0, 0, 1, 1], "the restart deploys attempt 1");
  t.equal(result.restarts, 1);
  t.equal(result.rescales, 0);
  t.same(sorted(collected(result)), [1, 2, 3]);
});

t.test("cancel during the restart delay ends the job without waiting for the delay", async (t) => {
  const job = defineJob(
    {
      name: "always-fails",
      restartStrategy: { type: "fixed-delay", attempts: 5, delayMs: 600_000 },
    },
    (env) =>
      env
        .source(sources.collection([1]))
        .map(() => {
          throw new Error("always");
        })
        .sink(sinks.collect()),
  );
  const restarting = reaching(JobState.RESTARTING);
  const handle = runLocal(job.graph(), { onStateChange: restarting.onStateChange });
  await restarting.promise;
  // Were the delay's timer left behind, this file would not end for ten minutes.
  const result = await handle.cancel();
  t.equal(result.state, JobState.CANCELED);
  t.equal(result.restarts, 0);
  t.equal(handle.status().state, JobState.CANCELED);
});

t.test("a stop whose savepoint fails leaves the job running; cancel still ends it", async (t) => {
  const memory = memorySnapshotStore();
  const store: SnapshotStore = {
    ...memory,
    location: "memory, refusing savepoints",
    put: async (key, bytes) => {
      if (key.startsWith("savepoints/")) throw new Error("disk full");
      await memory.put(key, bytes);
    },
  };
  const job = defineJob({ name: "unbounded", checkpointing: { intervalMs: 60_000 } }, (env) =>
    env.source(sources.sequence({ keys: 2, ratePerSecond: 2000 })).sink(sinks.discard()),
  );
  const handle = runLocal(job.graph(), { store });
  await until(() => (handle.status().vertices[0]?.recordsIn ?? 0) > 0, "records flowing");
  await t.rejects(handle.stop(), { code: "TIMEOUT", message: /disk full/ });
  t.equal(handle.status().state, JobState.RUNNING);
  await t.rejects(handle.savepoint(), /disk full/, "a plain savepoint fails the same way");
  const result = await handle.cancel();
  t.equal(result.state, JobState.CANCELED);
  t.equal(result.savepoint, undefined);
});

t.test("savepoint and stop need a running job", async (t) => {
  const job = defineJob({ name: "short" }, (env) =>
    env.source(sources.collection([1])).sink(sinks.collect()),
  );
  const handle = runLocal(job.graph());
  t.equal((await handle.result).state, JobState.FINISHED);
  await t.rejects(handle.savepoint(), {
    code: "CONFLICT",
    message: /is FINISHED: savepoints need a running job/,
  });
  await t.rejects(handle.stop(), { code: "CONFLICT" });
  t.equal(
    (await handle.cancel()).state,
    JobState.FINISHED,
    "cancel after the end answers the result",
  );
});
