/** sinks.collect (results to the client at commit or finish) and sinks.log (a line per record). */
import { Writable } from "node:stream";
import t from "tap";
import { createLogger, InvalidArgumentError } from "../../../../components/core/mod.ts";
import { sinks } from "../../../../components/dataflow/sinks/mod.ts";
import { testContext } from "../../../support/dataflow.ts";

t.test(
  "collect hands values over once their checkpoint commits, in checkpoint order",
  async (t) => {
    const ctx = testContext({ operatorId: "results" });
    const writer = sinks.collect<number>().createWriter(ctx);
    writer.write(1, undefined);
    writer.write(2, undefined);
    const first = { checkpointId: 1, staged: writer.prepareCommit!(1) };
    writer.write(3, undefined);
    const second = { checkpointId: 2, staged: writer.prepareCommit!(2) };
    const empty = { checkpointId: 3, staged: writer.prepareCommit!(3) };
    t.same(ctx.results.get("results"), undefined, "nothing before the commit");
    await writer.commit!([second, first, empty]);
    t.same(ctx.results.get("results"), [1, 2, 3]);
    await writer.commit!([first, second]);
    t.same(ctx.results.get("results"), [1, 2, 3], "a checkpoint is handed over once per writer");
  },
);

t.test("collect without checkpoints hands everything over at finish", async (t) => {
  const ctx = testContext({ operatorId: "out" });
  const writer = sinks.collect<string>().createWriter(ctx);
  writer.write("a", undefined);
  writer.write("b", undefined);
  t.same(ctx.results.get("out"), undefined);
  await writer.finish!();
  t.same(ctx.results.get("out"), ["a", "b"]);
});

t.test("log writes one structured line per record at the chosen level", async (t) => {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  const log = createLogger({ level: "debug", destination });
  const writer = sinks.log({ level: "warn", prefix: "counts" }).createWriter(testContext({ log }));
  writer.write({ word: "a", count: 2 }, 1234);
  writer.write("plain", undefined);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(lines.length, 2);
  t.match(lines[0], { level: 40, msg: "counts", value: { word: "a", count: 2 }, timestamp: 1234 });
  t.match(lines[1], { level: 40, msg: "counts", value: "plain" });

  const info: Record<string, unknown>[] = [];
  const infoLog = createLogger({
    destination: new Writable({
      write(chunk, _e, done) {
        info.push(JSON.parse(chunk.toString()));
        done();
      },
    }),
  });
  sinks
    .log()
    .createWriter(testContext({ log: infoLog }))
    .write(7, undefined);
  await new Promise((resolve) => setImmediate(resolve));
  t.match(info, [{ level: 30, msg: "record", value: 7 }], "info and 'record' by default");
  t.throws(() => sinks.log({ level: "loud" as never }), InvalidArgumentError);
});
