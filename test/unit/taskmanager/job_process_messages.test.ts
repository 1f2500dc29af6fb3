/**
 * What a TaskManager accepts from a job process (`parseFromJobProcess`): the data plane's
 * publishes by the fast path, everything else by the schema; anything malformed, oversized or
 * unknown is refused with why, never passed on.
 */
import t from "tap";
import { TaskState } from "../../../components/core/mod.ts";
import { parseFromJobProcess } from "../../../components/taskmanager/job_process/messages.ts";

const data = new Uint8Array([1, 2, 3]);

t.test("well-formed messages are accepted as they are", async (t) => {
  for (const message of [
    { t: "pub", subject: "flotilla.c.data.j.0.e-0.0", data },
    { t: "sub", sid: 1, subject: "flotilla.c.data.j.0.e-0.0.credit" },
    { t: "state", id: 1, state: TaskState.RUNNING, metrics: { recordsIn: 3 } },
    { t: "ack", id: 1, checkpointId: 2, handle: "snapshots/j/2/v/0", bytes: 10 },
    { t: "store", rid: 4, id: 1, checkpointId: 2, bytes: data },
    { t: "request", rid: 5, subject: "a.b", data, timeout: 1000 },
  ]) {
    const parsed = parseFromJobProcess(message);
    t.ok(parsed.success, message.t);
    if (parsed.success) t.same(parsed.data, message);
  }
});

t.test("malformed messages are refused, naming what is wrong", async (t) => {
  const cases: [unknown, RegExp][] = [
    [{ t: "pub", subject: "x".repeat(513), data }, /subject/],
    [{ t: "pub", subject: "a.b", data: "not bytes" }, /data/],
    [{ t: "pub", subject: "a.b", data, extra: 1 }, /extra|Unrecognized/],
    [{ t: "pub", subject: "", data }, /subject/],
    [{ t: "exec", command: "rm -rf /" }, /t|discriminator|Invalid/],
    [{ t: "store", id: 1, checkpointId: 2, bytes: data }, /rid/],
    [{ t: "state", id: 1, state: "exploded" }, /state/],
    [{ t: "state", id: 0, state: TaskState.RUNNING }, /id/],
    [{ t: "request", rid: 1, subject: "a.b", data, timeout: 3_600_000 }, /timeout/],
    [{ t: "metrics", tasks: [[1, { ["x".repeat(200)]: 1 }]] }, /tasks/],
  ];
  for (const [message, why] of cases) {
    const parsed = parseFromJobProcess(message);
    t.notOk(parsed.success, JSON.stringify(message).slice(0, 80));
    if (!parsed.success) t.match(parsed.why, why);
  }
});
