/** The job lifecycle as a pure machine: every transition, and the odd orders events come in. */
import t from "tap";
import { ErrorCode, FlotillaError, JobState, TaskState } from "../../../components/core/mod.ts";
import { restartPolicy } from "../../../components/dataflow/internal_mod.ts";
import {
  JobLifecycle,
  type JobLifecycleAction,
  type JobLifecycleOptions,
  type Parallelism,
} from "../../../components/dataflow/lifecycle/mod.ts";
import type { RestartPolicy } from "../../../components/dataflow/runtime/restart.ts";

const TASKS = ["a/0", "a/1"];
const boom = (message = "boom") => new FlotillaError(ErrorCode.INTERNAL, message);
const never: RestartPolicy = {
  onFailure: () => {
    throw new Error("the restart strategy must not be asked");
  },
};

function machine(options: Partial<JobLifecycleOptions> = {}): JobLifecycle {
  return new JobLifecycle("job-1", {
    restartPolicy: restartPolicy({ type: "fixed-delay", attempts: 1, delayMs: 10 }),
    tasksAt: () => TASKS,
    now: () => 0,
    ...options,
  });
}

/** A machine with attempt 0 deployed and running. */
function running(options: Partial<JobLifecycleOptions> = {}): JobLifecycle {
  const m = machine(options);
  m.resourcesReady();
  m.start();
  return m;
}

const kinds = (actions: JobLifecycleAction[]) =>
  actions.map((a) => (a.kind === "state" ? `state:${a.to}` : a.kind));
const endOf = (actions: JobLifecycleAction[]) => {
  const end = actions.find((a) => a.kind === "end");
  return end?.kind === "end" ? end.outcome : undefined;
};
const endAll = (m: JobLifecycle, attempt: number, state: TaskState) =>
  TASKS.flatMap((task) => m.taskStateChanged(attempt, task, state));

t.test("created -> deploy attempt 0 -> running -> every task finished -> finished", (t) => {
  const m = machine();
  m.resourcesReady();
  t.same(m.start(), [
    { kind: "state", from: JobState.CREATED, to: JobState.RUNNING, why: "started" },
    { kind: "deploy", attempt: 0 },
  ]);
  t.equal(m.state, JobState.RUNNING);
  t.same(m.taskStateChanged(0, "a/0", TaskState.RUNNING), [], "a running task is no news");
  t.same(m.taskStateChanged(0, "a/0", TaskState.FINISHED), [], "one of two finished");
  m.checkpointCompleted();
  const last = m.taskStateChanged(0, "a/1", TaskState.FINISHED);
  t.same(kinds(last), ["state:FINISHED", "end"]);
  t.same(endOf(last), { state: JobState.FINISHED, restarts: 0, rescales: 0, checkpoints: 1 });
  t.same(m.start(), [], "started once");
  t.end();
});

t.test("without resources the job waits for them, and deploys when they come", (t) => {
  const m = machine({ firstAttempt: 5 });
  t.same(m.start(), [{ kind: "await-resources" }]);
  t.equal(m.state, JobState.CREATED);
  t.same(kinds(m.resourcesReady()), ["state:RUNNING", "deploy"]);
  t.equal(m.attempt, 5, "a recovered JobManager starts at its first attempt number");
  t.end();
});

t.test("resources ready before the start only remember it", (t) => {
  const m = machine();
  t.same(m.resourcesReady(), []);
  t.same(kinds(m.start()), ["state:RUNNING", "deploy"]);
  t.end();
});

t.test("a task failure: failing, stop, restart after the delay, finish", (t) => {
  const m = running();
  t.same(m.taskStateChanged(0, "a/0", TaskState.FAILED, boom()), [
    { kind: "state", from: JobState.RUNNING, to: JobState.FAILING, why: "boom" },
    { kind: "stop-attempt", attempt: 0, reason: "boom" },
  ]);
  t.same(m.attemptFailed(0, boom("second")), [], "the first failure counts");
  t.same(m.taskStateChanged(0, "a/1", TaskState.CANCELED), [
    { kind: "state", from: JobState.FAILING, to: JobState.RESTARTING, why: "boom" },
    { kind: "schedule-restart", attempt: 0, delayMs: 10 },
  ]);
  t.same(m.restartDelayElapsed(0), [
    { kind: "state", from: JobState.RESTARTING, to: JobState.RUNNING, why: "restarting" },
    { kind: "deploy", attempt: 1 },
  ]);
  t.equal(m.restarts, 1);
  t.same(m.restartDelayElapsed(0), [], "a second timer for the same delay is ignored");
  t.same(m.taskStateChanged(0, "a/0", TaskState.FAILED, boom("late")), [], "old attempt");
  t.same(m.attemptFailed(0, boom("late")), [], "old attempt");
  t.same(endOf(endAll(m, 1, TaskState.FINISHED)), {
    state: JobState.FINISHED,
    restarts: 1,
    rescales: 0,
    checkpoints: 0,
  });
  t.end();
});

t.test("restarts used up: failed, with the strategy's reason and the task's code", (t) => {
  const m = running();
  m.attemptFailed(0, new FlotillaError(ErrorCode.UNAVAILABLE, "TaskManager lost"));
  endAll(m, 0, TaskState.CANCELED);
  m.restartDelayElapsed(0);
  m.taskStateChanged(1, "a/1", TaskState.FAILED, boom("bad record"));
  const actions = m.taskStateChanged(1, "a/0", TaskState.CANCELED);
  t.same(kinds(actions), ["state:FAILED", "end"]);
  const outcome = endOf(actions)!;
  t.equal(outcome.state, JobState.FAILED);
  t.equal(outcome.restarts, 1);
  t.equal(outcome.error?.code, ErrorCode.INTERNAL);
  t.equal(outcome.error?.message, "bad record (fixed-delay: 1 restart attempts used up)");
  t.match(outcome.error?.cause, { message: "bad record" }, "the attempt's error is its cause");
  t.equal(m.failure, outcome.error, "why it failed, readable while its end's effects run");
  t.end();
});

t.test("a channel canceled downstream is not the cause: the upstream's failure is", (t) => {
  const noRestart = restartPolicy({ type: "none" });
  const m = running({ restartPolicy: noRestart });
  const canceled = new FlotillaError(ErrorCode.CANCELED, "channel x: the sender canceled");
  const actions = [
    ...m.taskStateChanged(0, "a/1", TaskState.FAILED, canceled),
    ...m.taskStateChanged(0, "a/0", TaskState.FAILED, boom("cannot open /data/x")),
    ...endAll(m, 0, TaskState.CANCELED),
  ];
  t.match(endOf(actions)?.error, { message: /cannot open \/data\/x/ });
  const other = running({ restartPolicy: noRestart });
  const first = [
    ...other.taskStateChanged(0, "a/0", TaskState.FAILED, boom("first")),
    ...other.taskStateChanged(0, "a/1", TaskState.FAILED, boom("second")),
    ...endAll(other, 0, TaskState.CANCELED),
  ];
  t.match(endOf(first)?.error, { message: /first/ }, "else the first");
  t.end();
});

t.test("a job that is not failed has no failure, even while failing", (t) => {
  const m = running();
  m.attemptFailed(0, boom("bad record"));
  t.not(m.state, JobState.FAILED);
  t.equal(m.failure, undefined);
  t.end();
});

t.test("a failure that is not restartable fails without asking the strategy", (t) => {
  const m = running({ restartPolicy: never });
  m.attemptFailed(0, boom("deployment refused"), { restartable: false });
  const outcome = endOf(endAll(m, 0, TaskState.CANCELED));
  t.equal(outcome?.error?.message, "deployment refused (not restartable)");
  t.end();
});

t.test("the restart strategy reads the injected clock", (t) => {
  let now = 0;
  const rate = () =>
    restartPolicy({ type: "failure-rate", maxFailures: 1, intervalMs: 1000, delayMs: 0 });
  const failTwice = (m: JobLifecycle, gapMs: number) => {
    m.attemptFailed(0, boom());
    endAll(m, 0, TaskState.CANCELED);
    m.restartDelayElapsed(0);
    now += gapMs;
    m.attemptFailed(1, boom());
    return endAll(m, 1, TaskState.CANCELED);
  };
  t.same(kinds(failTwice(running({ restartPolicy: rate(), now: () => now }), 500)), [
    "state:FAILED",
    "end",
  ]);
  t.same(kinds(failTwice(running({ restartPolicy: rate(), now: () => now }), 5000)), [
    "state:RESTARTING",
    "schedule-restart",
  ]);
  t.end();
});

t.test("after the delay without resources the job waits for them again", (t) => {
  const m = running();
  m.attemptFailed(0, boom());
  endAll(m, 0, TaskState.CANCELED);
  m.resourcesLost();
  t.same(m.restartDelayElapsed(0), [
    {
      kind: "state",
      from: JobState.RESTARTING,
      to: JobState.CREATED,
      why: "waiting for resources",
    },
    { kind: "await-resources" },
  ]);
  t.equal(m.restarts, 1, "the restart counts when it is decided");
  t.same(kinds(m.resourcesReady()), ["state:RUNNING", "deploy"]);
  t.equal(m.attempt, 1);
  t.end();
});

t.test("resources that never come fail a waiting job, not a running one", (t) => {
  const waiting = machine();
  waiting.start();
  const actions = waiting.resourcesTimedOut(
    new FlotillaError(ErrorCode.NO_RESOURCES, "slots not available within 10 ms"),
  );
  t.same(kinds(actions), ["state:FAILED", "end"]);
  t.match(endOf(actions)?.error, {
    code: ErrorCode.NO_RESOURCES,
    message: "slots not available within 10 ms (not restartable)",
  });
  t.same(running().resourcesTimedOut(boom()), []);
  t.end();
});

t.test("cancel: canceling, stop, canceled; again is nothing", (t) => {
  const m = running();
  t.same(m.cancel(), [
    { kind: "state", from: JobState.RUNNING, to: JobState.CANCELING, why: "canceled" },
    { kind: "stop-attempt", attempt: 0, reason: "job canceled" },
  ]);
  t.same(m.cancel(), []);
  t.same(m.taskStateChanged(0, "a/0", TaskState.CANCELED), [], "one still running");
  const actions = m.taskStateChanged(0, "a/1", TaskState.FINISHED);
  t.same(
    endOf(actions)?.state,
    JobState.CANCELED,
    "a task finishing during a cancel changes nothing",
  );
  t.same(m.cancel(), []);
  t.end();
});

t.test("cancel before any attempt ends at once", (t) => {
  const m = machine();
  m.start();
  t.same(kinds(m.cancel()), ["state:CANCELED", "end"]);
  t.same(m.resourcesReady(), [], "nothing deploys after the end");
  t.end();
});

t.test("cancel during the restart delay ends at once; the delay's end is ignored", (t) => {
  const m = running();
  m.attemptFailed(0, boom());
  endAll(m, 0, TaskState.CANCELED);
  t.equal(m.state, JobState.RESTARTING);
  t.same(endOf(m.cancel())?.state, JobState.CANCELED);
  t.same(m.restartDelayElapsed(0), []);
  t.end();
});

t.test("cancel during failing: no restart once the attempt stopped", (t) => {
  const m = running({ restartPolicy: never });
  m.attemptFailed(0, boom());
  t.same(m.cancel(), [
    { kind: "state", from: JobState.FAILING, to: JobState.CANCELING, why: "canceled" },
  ]);
  const actions = endAll(m, 0, TaskState.CANCELED);
  t.same(kinds(actions), ["state:CANCELED", "end"]);
  t.same(endOf(actions)?.error, undefined, "a canceled job has no error");
  t.end();
});

t.test("suspend at every state: no outcome, nothing after", (t) => {
  const at: Partial<Record<JobState, () => JobLifecycle>> = {
    [JobState.CREATED]: () => machine(),
    [JobState.RUNNING]: () => running(),
    [JobState.FAILING]: () => {
      const m = running();
      m.attemptFailed(0, boom());
      return m;
    },
    [JobState.RESTARTING]: () => {
      const m = running();
      m.attemptFailed(0, boom());
      endAll(m, 0, TaskState.CANCELED);
      return m;
    },
    [JobState.CANCELING]: () => {
      const m = running();
      m.cancel();
      return m;
    },
  };
  for (const [state, make] of Object.entries(at)) {
    const m = make();
    t.equal(m.state, state);
    t.same(kinds(m.suspend()), ["state:SUSPENDED", "suspend"], `suspend while ${state}`);
    const later = [
      ...endAll(m, 0, TaskState.CANCELED),
      ...m.restartDelayElapsed(0),
      ...m.cancel(),
      ...m.resourcesReady(),
      ...m.attemptFailed(0, boom()),
      ...m.suspend(),
    ];
    t.same(later, [], `nothing happens after a suspend while ${state}`);
    t.equal(m.state, JobState.SUSPENDED);
  }
  const ended = running();
  ended.cancel();
  endAll(ended, 0, TaskState.CANCELED);
  t.same(ended.suspend(), [], "an ended job is not suspended");
  t.end();
});

t.test("finish racing a failure: the first word wins", (t) => {
  const finished = running();
  endAll(finished, 0, TaskState.FINISHED);
  t.equal(finished.state, JobState.FINISHED);
  t.same(finished.attemptFailed(0, boom("too late")), []);

  const failed = running();
  failed.taskStateChanged(0, "a/0", TaskState.FAILED, boom());
  t.same(
    kinds(failed.taskStateChanged(0, "a/1", TaskState.FINISHED)),
    ["state:RESTARTING", "schedule-restart"],
    "a failed attempt restarts even if its other tasks finished",
  );
  t.end();
});

t.test("a task canceled without the job asking fails the attempt", (t) => {
  const m = running();
  const actions = m.taskStateChanged(0, "a/1", TaskState.CANCELED);
  t.same(kinds(actions), ["state:FAILING", "stop-attempt"]);
  t.match(actions[0], { why: "task a/1 was canceled" });
  t.end();
});

t.test("a task stuck in user code: the effects give up and the job goes on", (t) => {
  const m = running();
  m.attemptFailed(0, new FlotillaError(ErrorCode.TIMEOUT, "checkpoints expired"));
  t.same(m.attemptStopped(1), [], "not the current attempt");
  t.same(kinds(m.attemptStopped(0)), ["state:RESTARTING", "schedule-restart"]);
  t.same(m.attemptStopped(0), [], "stopped once");
  t.same(m.taskStateChanged(0, "a/0", TaskState.CANCELED), [], "the stuck task's late end");
  t.same(kinds(m.restartDelayElapsed(0)), ["state:RUNNING", "deploy"]);
  t.end();
});

t.test("stop-with-savepoint: savepoint, stop, finished with the savepoint", (t) => {
  const m = running();
  t.same(m.stopWithSavepoint(), [{ kind: "trigger-savepoint", attempt: 0 }]);
  t.throws(() => m.stopWithSavepoint(), { code: ErrorCode.CONFLICT }, "one stop at a time");
  t.equal(m.state, JobState.RUNNING, "the job runs while the savepoint is taken");
  t.same(m.savepointCompleted("savepoints/job-1/3"), [
    {
      kind: "state",
      from: JobState.RUNNING,
      to: JobState.CANCELING,
      why: "stopping with savepoint savepoints/job-1/3",
    },
    { kind: "stop-attempt", attempt: 0, reason: "stopping with savepoint savepoints/job-1/3" },
  ]);
  const actions = endAll(m, 0, TaskState.CANCELED);
  t.same(endOf(actions), {
    state: JobState.FINISHED,
    restarts: 0,
    rescales: 0,
    checkpoints: 0,
    savepoint: "savepoints/job-1/3",
  });
  t.end();
});

t.test("a failed savepoint leaves the job running and tells the stop's caller", (t) => {
  const m = running();
  m.stopWithSavepoint();
  const error = new FlotillaError(ErrorCode.TIMEOUT, "checkpoint 4 aborted");
  t.same(m.savepointFailed(error), [{ kind: "stop-failed", error }]);
  t.equal(m.state, JobState.RUNNING);
  t.same(m.savepointFailed(error), [], "answered once");
  t.same(m.stopWithSavepoint(), [{ kind: "trigger-savepoint", attempt: 0 }], "may try again");
  t.end();
});

t.test("savepoints need a running job", (t) => {
  const m = machine();
  t.throws(() => m.checkSavepoint(), {
    code: ErrorCode.CONFLICT,
    message: "job job-1 is CREATED: savepoints need a running job",
  });
  t.throws(() => m.stopWithSavepoint(), { code: ErrorCode.CONFLICT });
  t.doesNotThrow(() => running().checkSavepoint());
  t.end();
});

t.test("the stop's savepoint completing while failing: stop, no restart", (t) => {
  const m = running({ restartPolicy: never });
  m.stopWithSavepoint();
  m.attemptFailed(0, boom());
  t.same(kinds(m.savepointCompleted("savepoints/job-1/2")), ["state:CANCELLING"]);
  t.same(endOf(endAll(m, 0, TaskState.CANCELED))?.savepoint, "savepoints/job-1/2");
  t.end();
});

t.test("the stop's savepoint completing after the job ended fails the stop", (t) => {
  const m = running();
  m.stopWithSavepoint();
  endAll(m, 0, TaskState.FINISHED);
  t.match(m.savepointCompleted("savepoints/job-1/2"), [
    { kind: "stop-failed", error: { code: ErrorCode.CONFLICT } },
  ]);
  t.end();
});

t.test("a rescale: checkpoint, stop, deploy at the new parallelism, not a restart", (t) => {
  const asked: (Parallelism | undefined)[] = [];
  const m = running({
    tasksAt: (p) => {
      asked.push(p);
      return p ? Array.from({ length: p.a ?? 0 }, (_, i) => `a/${i}`) : TASKS;
    },
  });
  t.same(m.rescale({ a: 3 }, "a TaskManager offered a slot"), [
    { kind: "trigger-checkpoint", attempt: 0 },
  ]);
  t.same(m.rescale({ a: 4 }, "two slots"), [], "a rescale under way takes the new target");
  t.same(m.rescaleCheckpointDone(0), [
    { kind: "state", from: JobState.RUNNING, to: JobState.RESTARTING, why: "rescaling: two slots" },
    { kind: "stop-attempt", attempt: 0, reason: "rescaling: two slots" },
  ]);
  t.same(endAll(m, 0, TaskState.CANCELED), [
    { kind: "state", from: JobState.RESTARTING, to: JobState.RUNNING, why: "rescaled" },
    { kind: "deploy", attempt: 1, parallelism: { a: 4 } },
  ]);
  t.equal(m.restarts, 0, "a rescale is not a restart");
  t.same(asked, [undefined, { a: 4 }], "the new attempt's tasks are those at the new parallelism");
  t.same([...m.taskStates().keys()], ["a/0", "a/1", "a/2", "a/3"]);
  t.end();
});

t.test("cancel while a rescale stops the attempt: canceled, no redeploy", (t) => {
  const m = running();
  m.rescale({ a: 1 }, "slots");
  m.rescaleCheckpointDone(0);
  t.same(m.cancel(), [
    { kind: "state", from: JobState.RESTARTING, to: JobState.CANCELING, why: "canceled" },
  ]);
  t.same(kinds(endAll(m, 0, TaskState.CANCELED)), ["state:CANCELED", "end"]);
  t.end();
});

t.test("rescales count deployments at another parallelism", (t) => {
  const m = machine({ tasksAt: () => TASKS });
  m.resourcesReady({ a: 2 });
  m.start();
  m.rescale({ a: 2 }, "same");
  t.equal(m.state, JobState.RUNNING, "the same parallelism is no rescale");
  m.rescale({ a: 1 }, "a TaskManager lost");
  m.rescaleCheckpointDone(0);
  endAll(m, 0, TaskState.CANCELED);
  t.equal(m.rescales, 1);
  t.same(endOf(endAll(m, 1, TaskState.FINISHED)), {
    state: JobState.FINISHED,
    restarts: 0,
    rescales: 1,
    checkpoints: 0,
  });
  t.end();
});

t.test("a rescale dropped: the input ended, an old attempt's checkpoint, a stop", (t) => {
  const m = running();
  m.rescale({ a: 1 }, "slots");
  t.same(m.rescaleCheckpointDone(0, { proceed: false }), []);
  t.equal(m.state, JobState.RUNNING);
  m.rescale({ a: 1 }, "slots");
  t.same(m.rescaleCheckpointDone(7), [], "another attempt's checkpoint");
  m.stopWithSavepoint();
  t.same(m.rescaleCheckpointDone(0), [], "a stop wins over a rescale");
  t.same(m.rescale({ a: 3 }, "slots"), [], "no rescale while stopping");
  t.end();
});

t.test("a rescale whose slots went while the attempt stopped waits for resources", (t) => {
  const m = running();
  m.rescale({ a: 1 }, "slots");
  m.rescaleCheckpointDone(0);
  m.resourcesLost();
  t.same(kinds(endAll(m, 0, TaskState.CANCELED)), ["state:CREATED", "await-resources"]);
  t.same(kinds(m.resourcesReady({ a: 1 })), ["state:RUNNING", "deploy"]);
  t.equal(m.rescales, 0, "no parallelism was known before: nothing to compare with");
  t.end();
});

t.test("a failure during a rescale's checkpoint drops the rescale", (t) => {
  const m = running();
  m.rescale({ a: 1 }, "slots");
  m.attemptFailed(0, boom());
  t.same(m.rescaleCheckpointDone(0), []);
  t.equal(m.state, JobState.FAILING);
  t.end();
});

t.test("an attempt without tasks finishes at once", (t) => {
  const m = machine({ tasksAt: () => [] });
  m.resourcesReady();
  t.same(kinds(m.start()), ["state:RUNNING", "deploy", "state:FINISHED", "end"]);
  t.end();
});
