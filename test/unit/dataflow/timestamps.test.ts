import t from "tap";
import { ErrorCode } from "../../../components/core/mod.ts";
import {
  type AssignTimestampsOptions,
  TimestampsOperator,
} from "../../../components/dataflow/operators/timestamps.ts";
import { MAX_WATERMARK } from "../../../components/dataflow/types.ts";
import { collectingOutput, testContext } from "../../support/dataflow.ts";

interface Event {
  id: string;
  at: number;
}

function setup(options: AssignTimestampsOptions = {}) {
  const ctx = testContext({ manualClock: true });
  const output = collectingOutput<Event>();
  const op = new TimestampsOperator<Event>((e) => e.at, options);
  op.open({ ...ctx, output });
  return { ctx, output, op };
}

t.test("stamps records with fn(value), replacing any upstream timestamp", (t) => {
  const { output, op } = setup();
  op.processElement({ id: "a", at: 1000 }, 5);
  op.processElement({ id: "b", at: 900 }, undefined);
  t.same(
    output.records.map((r) => [r.value.id, r.timestamp]),
    [
      ["a", 1000],
      ["b", 900],
    ],
  );
  t.end();
});

t.test("watermark = max timestamp - maxOutOfOrderMs - 1, only when it advances", (t) => {
  const { output, op } = setup({ maxOutOfOrderMs: 100, watermarkIntervalMs: 0 });
  op.processElement({ id: "a", at: 1000 }, undefined); // 899
  op.processElement({ id: "b", at: 950 }, undefined); // max still 1000: nothing new
  op.processElement({ id: "c", at: 1200 }, undefined); // 1099
  op.processElement({ id: "d", at: 1150 }, undefined); // nothing new
  t.same(output.watermarks, [899, 1099]);
  t.end();
});

t.test("at most one watermark per interval, measured with ctx.now()", (t) => {
  const { ctx, output, op } = setup({ maxOutOfOrderMs: 0 });
  op.processElement({ id: "a", at: 10 }, undefined); // first one goes out at once: 9
  op.processElement({ id: "b", at: 20 }, undefined);
  ctx.advanceClock(199);
  op.processElement({ id: "c", at: 30 }, undefined);
  t.same(output.watermarks, [9], "held back inside the 200 ms interval");
  ctx.advanceClock(1);
  op.processElement({ id: "d", at: 25 }, undefined); // max is 30: 29 is due now
  t.same(output.watermarks, [9, 29]);
  ctx.advanceClock(500);
  op.onPeriodicEmit();
  t.same(output.watermarks, [9, 29], "nothing new to emit when idle");
  op.processElement({ id: "e", at: 40 }, undefined);
  t.same(output.watermarks, [9, 29, 39]);
  t.end();
});

t.test("endInput emits MAX_WATERMARK once; upstream watermarks are ignored", (t) => {
  const { output, op } = setup({ watermarkIntervalMs: 0 });
  op.processWatermark(5000);
  t.same(output.watermarks, []);
  op.processElement({ id: "a", at: 10 }, undefined);
  op.endInput();
  op.endInput();
  t.same(output.watermarks, [9, MAX_WATERMARK]);
  t.end();
});

t.test('late: "keep" passes late records on', (t) => {
  const { ctx, output, op } = setup({ maxOutOfOrderMs: 10, watermarkIntervalMs: 0 });
  op.processElement({ id: "a", at: 100 }, undefined); // watermark 89
  op.processElement({ id: "late", at: 50 }, undefined);
  t.same(
    output.values().map((e) => e.id),
    ["a", "late"],
  );
  t.equal(ctx.counter("lateRecordsDropped").get(), 0);
  t.end();
});

t.test('late: "drop" drops records at or behind the emitted watermark and counts them', (t) => {
  const { ctx, output, op } = setup({ maxOutOfOrderMs: 10, late: "drop", watermarkIntervalMs: 0 });
  op.processElement({ id: "a", at: 100 }, undefined); // watermark 89
  op.processElement({ id: "in-bound", at: 90 }, undefined); // within the bound: kept
  op.processElement({ id: "at-watermark", at: 89 }, undefined);
  op.processElement({ id: "way-late", at: 3 }, undefined);
  op.processElement({ id: "b", at: 120 }, undefined); // watermark 109
  op.processElement({ id: "late-now", at: 105 }, undefined);
  t.same(
    output.values().map((e) => e.id),
    ["a", "in-bound", "b"],
  );
  t.same(output.watermarks, [89, 109]);
  t.equal(ctx.counter("lateRecordsDropped").get(), 3);
  t.end();
});

t.test("bad options and bad timestamps are typed errors", (t) => {
  t.throws(() => new TimestampsOperator<Event>((e) => e.at, { maxOutOfOrderMs: -1 }), {
    code: ErrorCode.INVALID_ARGUMENT,
    message: /maxOutOfOrderMs/,
  });
  t.throws(() => new TimestampsOperator<Event>((e) => e.at, { late: "skip" as "drop" }), {
    code: ErrorCode.INVALID_ARGUMENT,
  });
  const ctx = testContext();
  const op = new TimestampsOperator<Event>((e) => (e as unknown as { time: number }).time);
  op.open({ ...ctx, output: collectingOutput<Event>() });
  t.throws(() => op.processElement({ id: "x", at: 1 }, undefined), {
    code: ErrorCode.INVALID_ARGUMENT,
    message: /returned undefined for \{"id":"x","at":1\}/,
  });
  t.end();
});
