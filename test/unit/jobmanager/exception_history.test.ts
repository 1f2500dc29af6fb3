/**
 * The exception history: one entry per failed attempt (root cause with its task, TaskManager and
 * time; the attempt's other failures concurrent), a task canceled unasked giving way to the real
 * cause, Flink's view with `maxExceptions`, and its bounds.
 */
import t from "tap";
import { ErrorCode, FlotillaError } from "../../../components/core/mod.ts";
import { ExceptionHistory } from "../../../components/jobmanager/mod.ts";
import { jobExceptionsSchema } from "../../../components/protocol/mod.ts";

const site = (task: string) => ({ taskName: `${task} (1/2)`, taskManagerId: "tm-1" });
const error = (code: ErrorCode, message: string) => new FlotillaError(code, message);

t.test("no failure: Flink's empty view", async (t) => {
  const view = new ExceptionHistory().view();
  t.ok(jobExceptionsSchema.safeParse(view).success);
  t.same(view, {
    "root-exception": null,
    timestamp: null,
    "all-exceptions": [],
    truncated: false,
    exceptionHistory: { entries: [], truncated: false },
  });
});

t.test("root cause and concurrent failures per attempt, newest first", async (t) => {
  const history = new ExceptionHistory();
  const root = error(ErrorCode.INTERNAL, "0-map#0: boom");
  history.failed(3, root, 1000, site("map"));
  history.failed(3, root, 1001, site("map")); // the same failure told twice (task, lifecycle)
  history.failed(3, error(ErrorCode.INTERNAL, "0-map#1: boom too"), 1002, site("map"));
  history.failed(4, error(ErrorCode.TIMEOUT, "3 checkpoints in a row did not complete"), 2000);
  const view = history.view();
  t.ok(jobExceptionsSchema.safeParse(view).success, "Flink's JobExceptionsInfoWithHistory");
  t.equal(view["root-exception"], "TIMEOUT: 3 checkpoints in a row did not complete");
  t.equal(view.timestamp, 2000);
  const [newest, first] = view.exceptionHistory.entries;
  t.match(newest, {
    exceptionName: "TIMEOUT",
    taskName: null,
    taskManagerId: null,
    endpoint: null,
    concurrentExceptions: [],
  });
  t.match(first, {
    exceptionName: "INTERNAL",
    stacktrace: "INTERNAL: 0-map#0: boom",
    timestamp: 1000,
    taskName: "map (1/2)",
    taskManagerId: "tm-1",
    endpoint: "tm-1",
    location: "tm-1",
    failureLabels: {},
    concurrentExceptions: [{ stacktrace: "INTERNAL: 0-map#1: boom too", timestamp: 1002 }],
  });
  t.equal(first?.concurrentExceptions.length, 1, "the repeated failure is recorded once");
  t.ok(history.has(4));
  t.notOk(history.has(3), "only the newest attempt's is asked for");
});

t.test("a task canceled unasked gives way to the failure that caused it", async (t) => {
  const history = new ExceptionHistory();
  history.failed(1, error(ErrorCode.CANCELED, "task 1-sink/0 was canceled"), 100);
  history.failed(1, error(ErrorCode.INTERNAL, "0-map#0: the real cause"), 101, site("map"));
  const [entry] = history.view().exceptionHistory.entries;
  t.match(entry, {
    stacktrace: "INTERNAL: 0-map#0: the real cause",
    concurrentExceptions: [{ exceptionName: "CANCELED" }],
  });
});

t.test("bounded: entries, concurrent failures, message length; maxExceptions", async (t) => {
  const history = new ExceptionHistory({ size: 4 });
  for (let attempt = 0; attempt < 10; attempt++)
    for (let i = 0; i < 10; i++)
      history.failed(
        attempt,
        error(ErrorCode.INTERNAL, `a${attempt} f${i} ${"x".repeat(9000)}`),
        i,
      );
  t.equal(history.size, 4, "web.exception-history-size entries");
  const view = history.view(100);
  t.same(
    view.exceptionHistory.entries.map((e) => e.stacktrace.slice(0, 15)),
    ["INTERNAL: a9 f0", "INTERNAL: a8 f0", "INTERNAL: a7 f0", "INTERNAL: a6 f0"],
  );
  t.ok(view.exceptionHistory.entries.every((e) => e.concurrentExceptions.length === 4));
  t.ok(view.exceptionHistory.entries.every((e) => e.stacktrace.length <= 8192 + 10));
  t.notOk(view.exceptionHistory.truncated);
  const two = history.view(2);
  t.equal(two.exceptionHistory.entries.length, 2);
  t.ok(two.exceptionHistory.truncated, "more entries than asked for");
  t.equal(two["all-exceptions"].length, 2);
  t.ok(two.truncated);
});

t.test("a view fits one NATS message whatever the failures' messages", async (t) => {
  const history = new ExceptionHistory();
  for (let attempt = 0; attempt < 20; attempt++)
    for (let i = 0; i < 20; i++)
      history.failed(
        attempt,
        error(ErrorCode.INTERNAL, `a${attempt} f${i} ${"z".repeat(60_000)}`),
        i,
      );
  const view = history.view();
  const bytes = new TextEncoder().encode(JSON.stringify(view)).byteLength;
  t.ok(bytes < 512 * 1024, `${bytes} bytes`);
  t.equal(view.exceptionHistory.entries.length, 16);
  t.ok(view.exceptionHistory.entries.every((e) => e.concurrentExceptions.length === 16));
  t.match(
    view.exceptionHistory.entries[0]?.stacktrace,
    /^INTERNAL: a19 f0 z+$/,
    "messages cut, not lost",
  );
});
