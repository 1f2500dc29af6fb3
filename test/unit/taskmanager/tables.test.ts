/**
 * The TaskManager's core without I/O: the slot table's life cycle, what a deployment, a cancel,
 * a checkpoint trigger and a released slot mean for the task table, and the options' checks.
 */
import t from "tap";
import {
  type AllocationId,
  ErrorCode,
  type JobId,
  type TaskManagerId,
} from "../../../components/core/mod.ts";
import type { TaskDescriptor } from "../../../components/protocol/mod.ts";
import {
  compileTaskManagerOptions,
  deploymentKey,
  type RunningTask,
  SlotTable,
  TaskTable,
} from "../../../components/taskmanager/mod.ts";

const TM = "tm-a" as TaskManagerId;
const JOB = "0123456789abcdef0123456789abcdef" as JobId;
const OTHER = "fedcba9876543210fedcba9876543210" as JobId;
const A1 = "alloc-1" as AllocationId;
const A2 = "alloc-2" as AllocationId;
const ANY = { cpu: 0, memoryMb: 0, extended: {} };

t.test("slots: free -> allocated -> active -> free, idempotent per allocation", async (t) => {
  const slots = new SlotTable(TM, [ANY, { cpu: 2, memoryMb: 512, extended: { gpu: 1 } }]);
  t.same(
    slots.reports().map((s) => [s.slotId, s.index, s.state]),
    [
      ["tm-a_0", 0, "free"],
      ["tm-a_1", 1, "free"],
    ],
  );
  const first = slots.allocate(slots.reports()[0]!.slotId, JOB, A1);
  t.match(first, { fresh: true, slot: { state: "allocated", jobId: JOB, allocationId: A1 } });
  t.match(slots.allocate(first.slot.slotId, JOB, A1), { fresh: false }, "a retried allocation");
  t.throws(() => slots.allocate(first.slot.slotId, JOB, A2), { code: ErrorCode.CONFLICT });
  t.throws(() => slots.get("tm-a_7" as never), {
    code: ErrorCode.NOT_FOUND,
    message: /no slot tm-a_7 on TaskManager tm-a \(its slots: tm-a_0, tm-a_1\)/,
  });
  t.same(slots.activeOf(JOB), [], "not active before the JobManager accepted it");
  t.ok(slots.activate(first.slot.slotId, A1));
  t.notOk(slots.activate(first.slot.slotId, A2), "another allocation cannot activate it");
  t.equal(slots.activeOf(JOB).length, 1);
  t.equal(slots.byAllocation(A1, JOB).slotId, first.slot.slotId);
  t.throws(() => slots.byAllocation(A1, OTHER), {
    code: ErrorCode.CONFLICT,
    message: /allocation alloc-1 of job fedcba.* holds no slot on TaskManager tm-a/,
  });
  t.same(slots.jobs(), [JOB]);
  t.notOk(slots.free(first.slot.slotId, A2), "freeing needs the allocation that holds it");
  t.ok(slots.free(first.slot.slotId, A1));
  t.same(slots.heldBy(JOB), []);
  t.throws(() => slots.byAllocation(A1, JOB), { code: ErrorCode.CONFLICT });
});

class FakeTask implements RunningTask {
  readonly vertex: { source?: unknown };
  readonly canceled: string[] = [];
  readonly triggered: number[] = [];
  constructor(source: boolean) {
    this.vertex = source ? { source: {} } : {};
  }
  async cancel(reason: string) {
    this.canceled.push(reason);
  }
  triggerCheckpoint(id: number) {
    this.triggered.push(id);
  }
}

const descriptor = (over: Partial<TaskDescriptor> = {}): TaskDescriptor => ({
  jobId: JOB,
  attempt: 0,
  vertexId: "0-source",
  subtask: 0,
  allocationId: A1,
  jmSubject: "t.jobmanager.x",
  artifact: "a".repeat(64),
  args: {},
  ...over,
});
const reports = () => {
  const closed: string[] = [];
  return { closed, close: (reason: string) => closed.push(reason) };
};

t.test("tasks: a deployment once, triggers and cancels kept for set-ups", async (t) => {
  const tasks = new TaskTable<FakeTask, ReturnType<typeof reports>>();
  const source = tasks.admit(descriptor(), reports)!;
  t.equal(source.key, deploymentKey(descriptor()));
  t.equal(tasks.admit(descriptor(), reports), undefined, "a retried deployment is the same");
  const sink = tasks.admit(descriptor({ vertexId: "1-sink", allocationId: A2 }), reports)!;

  t.same(tasks.trigger(JOB, 0, { id: 1, final: false }), [], "nothing runs yet");
  t.same(tasks.trigger(JOB, 1, { id: 2, final: false }), [], "another attempt's trigger");
  const sourceTask = new FakeTask(true);
  t.same(
    tasks.started(source, sourceTask),
    {
      kind: "trigger",
      triggers: [{ id: 1, final: false }],
    },
    "the source gets the trigger it missed, not the other attempt's",
  );
  t.same(tasks.started(sink, new FakeTask(false)), { kind: "trigger", triggers: [] });
  t.same(tasks.trigger(JOB, 0, { id: 3, final: true }), [sourceTask], "running sources only");

  const late = tasks.admit(descriptor({ subtask: 1 }), reports)!;
  t.equal(tasks.cancel(JOB, 0, "canceled by the JobManager").length, 2, "the running ones");
  t.same(
    tasks.started(late, new FakeTask(true)),
    {
      kind: "cancel",
      reason: "canceled by the JobManager",
    },
    "one being set up is canceled once it exists",
  );
  t.equal(tasks.cancel(OTHER, 9, "x").length, 0);
  t.equal(tasks.running(JOB).length, 3);
  t.ok(tasks.has(JOB));
  t.notOk(tasks.has(OTHER));
});

t.test("tasks: a released allocation and a lost JobManager give their subtasks up", async (t) => {
  const tasks = new TaskTable<FakeTask, ReturnType<typeof reports>>();
  const running = tasks.admit(descriptor(), reports)!;
  tasks.started(running, new FakeTask(true));
  const settingUp = tasks.admit(descriptor({ subtask: 1 }), reports)!;
  const elsewhere = tasks.admit(descriptor({ subtask: 2, allocationId: A2 }), reports)!;
  t.same(tasks.release(A1, "slot freed"), [running, settingUp]);
  t.equal(settingUp.canceled, "slot freed", "the one being set up is canceled");
  t.equal(elsewhere.canceled, undefined, "another allocation's is not");
  t.same(tasks.abandonJob(JOB, "JobManager lost"), [running, settingUp, elsewhere]);
  t.equal(elsewhere.canceled, "JobManager lost");
  tasks.remove(running);
  tasks.remove(settingUp);
  tasks.remove(elsewhere);
  t.notOk(tasks.has(JOB), "gone once removed");
});

t.test("options: defaults, a parsed id, and timing checked once", async (t) => {
  const base = {
    clusterId: "t",
    transportFor: () => {
      throw new Error("unused");
    },
    channelsFor: () => {
      throw new Error("unused");
    },
    artifacts: { get: async () => undefined },
    snapshots: {
      location: "none",
      put: async () => {},
      get: async () => undefined,
      deletePrefix: async () => {},
    },
  };
  const compiled = compileTaskManagerOptions({
    ...base,
    slots: [ANY, { cpu: 1, memoryMb: 64, extended: { gpu: 2 } }],
  });
  t.match(compiled, {
    tmId: /^tm-[0-9a-f]{12}$/,
    rpc: { timeoutMs: 5000, attemptTimeoutMs: 1000 },
    heartbeatIntervalMs: 1000,
    heartbeatTimeoutMs: 5000,
    totalResources: { cpu: 1, memoryMb: 64, extended: { gpu: 2 } },
  });
  t.equal(compileTaskManagerOptions({ ...base, tmId: "tm-7" }).tmId, "tm-7");
  t.throws(() => compileTaskManagerOptions({ ...base, tmId: "tm 7" }), {
    code: ErrorCode.INVALID_ARGUMENT,
    message: /invalid TaskManager id "tm 7"/,
  });
  t.throws(
    () => compileTaskManagerOptions({ ...base, rpc: { timeoutMs: 0, attemptTimeoutMs: 1 } }),
    {
      code: ErrorCode.INVALID_CONFIG,
      message: /rpc.timeoutMs is 0: expected a positive number/,
    },
  );
  t.throws(
    () => compileTaskManagerOptions({ ...base, heartbeatIntervalMs: 500, heartbeatTimeoutMs: 100 }),
    {
      code: ErrorCode.INVALID_CONFIG,
      message: /heartbeat timeout 100 ms is shorter than the heartbeat interval 500 ms/,
    },
  );
});
