/** The rejection registry: warn lines limited per source and window, counts exact, memory bounded. */
import t from "tap";
import { createLogger, type Logger } from "../../../components/core/mod.ts";
import { Rejections, rejectionLabel } from "../../../components/rpc/mod.ts";

interface Line {
  msg: string;
  source?: string;
  suppressed?: number;
  [field: string]: unknown;
}

function capturedLog(onLine?: (line: Line) => void): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const log = createLogger({
    destination: {
      write(chunk: string) {
        const line = JSON.parse(chunk) as Line;
        lines.push(line);
        onLine?.(line);
      },
    },
  });
  return { log, lines };
}

function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

t.test("a flood from one source logs a few lines, then one 'suppressed' line", async (t) => {
  const clock = manualClock();
  const registry = new Rejections({ perWindow: 5, windowMs: 10_000, now: clock.now });
  const { log, lines } = capturedLog();
  for (let i = 0; i < 100; i++) registry.rejected("a.subject", "bad envelope", log, { i });
  t.equal(lines.length, 5, "five lines in the first window");
  t.same(
    lines.map((l) => l.i),
    [0, 1, 2, 3, 4],
    "the first five, with their fields",
  );
  t.ok(lines.every((l) => l.msg === "bad envelope" && l.source === "a.subject"));

  clock.advance(10_000);
  registry.rejected("a.subject", "bad envelope", log, { i: 100 });
  t.equal(lines.length, 7, "the next window: the summary, then the message itself");
  t.match(lines[5], { msg: "bad envelope: suppressed 95 similar", suppressed: 95 });
  t.match(lines[6], { msg: "bad envelope", i: 100 });
  t.equal(registry.count("a.subject", "bad envelope"), 101, "every one counted");
  registry.flushAll();
});

t.test("each source has its own window", async (t) => {
  const clock = manualClock();
  const registry = new Rejections({ perWindow: 2, now: clock.now });
  const { log, lines } = capturedLog();
  for (let i = 0; i < 10; i++) registry.rejected("noisy", "bad frame", log);
  registry.rejected("quiet", "bad frame", log);
  t.same(
    lines.map((l) => l.source),
    ["noisy", "noisy", "quiet"],
    "a noisy source does not silence another",
  );
  registry.flushAll();
  t.match(lines.at(-1), { source: "noisy", suppressed: 8 }, "flushAll reports what was held back");
});

t.test("the summary is logged when the window ends, without a further message", async (t) => {
  const registry = new Rejections({ perWindow: 1, windowMs: 30 });
  let summarized: (line: Line) => void = () => {};
  const summary = new Promise<Line>((resolve) => (summarized = resolve));
  const { log, lines } = capturedLog((line) => {
    if (line.suppressed !== undefined) summarized(line);
  });
  for (let i = 0; i < 4; i++) registry.rejected("s", "bad envelope", log);
  t.equal(lines.length, 1);
  // The registry's timer is unref'd (it must not keep a process alive): this test's process must stay.
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => clearInterval(keepAlive));
  t.match(await summary, { source: "s", suppressed: 3, msg: "bad envelope: suppressed 3 similar" });
});

t.test("the sources remembered are bounded: the least recently seen is forgotten", async (t) => {
  const clock = manualClock();
  const registry = new Rejections({ perWindow: 1, maxSources: 2, now: clock.now });
  const { log, lines } = capturedLog();
  registry.rejected("a", "bad", log);
  registry.rejected("a", "bad", log); // suppressed
  registry.rejected("b", "bad", log);
  registry.rejected("c", "bad", log); // forgets "a", reporting what it held back
  t.same(
    lines.map((l) => [l.source, l.suppressed ?? 0]),
    [
      ["a", 0],
      ["b", 0],
      ["a", 1],
      ["c", 0],
    ],
  );
  registry.rejected("a", "bad", log);
  t.match(lines.at(-1), { source: "a", msg: "bad" }, "a forgotten source starts a fresh window");
  registry.rejected("b", "bad", log);
  t.equal(lines.length, 6, "'b' was forgotten in turn when 'a' came back");
  for (let i = 0; i < 10_000; i++) registry.rejected(`random.${i}`, "bad", log);
  registry.flushAll();
  t.equal(lines.length, 6 + 10_000, "each new source logs once (nothing suppressed to report)");
});

t.test("counter labels: subjects become roles, ids never become label values", async (t) => {
  t.equal(rejectionLabel("flotilla.c1.taskmanager.tm-7f3a"), "taskmanager");
  t.equal(rejectionLabel("flotilla.c1.resourcemanager"), "resourcemanager");
  t.equal(rejectionLabel("flotilla.c1.jobmanager.job-1"), "jobmanager");
  t.equal(rejectionLabel("flotilla.c1.data.job-1.0.e-1.3"), "channel");
  t.equal(rejectionLabel("POST /jobs"), "POST /jobs", "other sources are their own label");

  const registry = new Rejections({ maxLabelSets: 2 });
  const { log } = capturedLog();
  registry.rejected("flotilla.c1.taskmanager.tm-1", "bad envelope", log);
  registry.rejected("flotilla.c1.taskmanager.tm-2", "bad envelope", log);
  registry.rejected("x", "bad frame", log);
  for (let i = 0; i < 50; i++) registry.rejected(`y${i}`, "bad frame", log);
  for (let i = 0; i < 50; i++) registry.rejected(`z${i}`, `reason ${i}`, log);
  const text = registry.metrics();
  t.match(text, "# TYPE flotilla_rejected_messages_total counter");
  t.match(text, 'flotilla_rejected_messages_total{source="taskmanager",reason="bad envelope"} 2');
  t.match(text, 'flotilla_rejected_messages_total{source="x",reason="bad frame"} 1');
  t.match(text, 'flotilla_rejected_messages_total{source="other",reason="bad frame"} 50');
  const series = text.split("\n").filter((l) => l.startsWith("flotilla_"));
  t.equal(
    series.length,
    5,
    "bounded: the cap, one 'other' per reason up to the cap again, then other/other",
  );
  t.match(text, 'flotilla_rejected_messages_total{source="other",reason="other"} 49');
  const total = series.reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
  t.equal(total, 103, "nothing is lost when label sets are folded");
  registry.flushAll();
});

t.test("label values are escaped", async (t) => {
  const registry = new Rejections();
  registry.rejected('a"b\\c', "bad", capturedLog().log);
  t.match(registry.metrics(), 'source="a\\"b\\\\c"');
  registry.flushAll();
});
