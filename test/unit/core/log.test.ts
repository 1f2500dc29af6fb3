import { Writable } from "node:stream";
import t from "tap";
import { createLogger } from "../../../components/core/mod.ts";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, destination };
}

t.test("log lines are JSON with level, time, message and the block's bindings", async (t) => {
  const { lines, destination } = capture();
  const log = createLogger({
    level: "info",
    bindings: { role: "resourcemanager", cluster: "c1" },
    destination,
  });
  log.info({ tm: "tm-1" }, "registered");
  log.debug("hidden below the level");
  log.child({ job: "j1" }).warn("slow");
  await new Promise((r) => setImmediate(r));
  t.equal(lines.length, 2);
  t.match(lines[0], {
    level: 30,
    role: "resourcemanager",
    cluster: "c1",
    tm: "tm-1",
    msg: "registered",
  });
  t.match(lines[0]?.time, /^\d{4}-\d{2}-\d{2}T/);
  t.match(lines[1], { level: 40, job: "j1", role: "resourcemanager", msg: "slow" });
});
