/**
 * A job process's output reaches the TaskManager's log within a budget: a real child printing
 * 20,000 lines as fast as it can gets about a burst's worth logged and the rest dropped, counted
 * in one warn line, so job code cannot fill the TaskManager's log.
 */
import { spawn } from "node:child_process";
import t from "tap";
import { createLogger } from "../../../components/core/mod.ts";
import {
  forwardOutput,
  JOB_LOG_LINES_PER_SECOND,
} from "../../../components/taskmanager/job_process/spawn.ts";
import { until } from "../../support/poll.ts";

t.test("20,000 lines at once: a burst is logged, the rest counted as dropped", async (t) => {
  const lines: { msg: string; dropped?: number }[] = [];
  const log = createLogger({
    level: "info",
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  const child = spawn(process.execPath, [
    "-e",
    "for (let i = 0; i < 10000; i++) { console.log('out ' + i); console.error('err ' + i); }",
  ]);
  forwardOutput(child, log);
  await new Promise((resolve) => child.once("exit", resolve));
  const logged = () => lines.filter((l) => /^(out|err) \d+$/.test(l.msg)).length;
  const reports = () => lines.filter((l) => /lines dropped/.test(l.msg));
  const dropped = () => reports().reduce((n, l) => n + (l.dropped ?? 0), 0);
  await until(() => logged() + dropped() === 20_000, "every line logged or counted as dropped", {
    timeoutMs: 10_000,
  });
  t.ok(logged() >= 2 * JOB_LOG_LINES_PER_SECOND, `${logged()} lines logged: at least the burst`);
  t.ok(logged() < 2_000, `${logged()} lines logged of 20,000`);
  t.ok(reports().length <= 5, `${dropped()} dropped, told in ${reports().length} warn lines`);
  t.match(reports()[0]?.msg, /more than 100 a second/);
});
