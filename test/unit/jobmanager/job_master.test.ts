/**
 * The JobManager's adaptive scheduler on the in-process MiniCluster (no sockets): it starts with
 * the slots there are, rescales when its bounds change, stays exactly once, and a job on the
 * default scheduler shows fixed bounds and refuses new ones.
 */
import t, { type Test } from "tap";
import { type MiniCluster, startMiniCluster } from "../../../components/cluster/mod.ts";
import { isJobEnd, JobState } from "../../../components/core/mod.ts";
import type { JobDetailsInfo } from "../../../components/protocol/mod.ts";
import { miniRest } from "../../support/mini.ts";
import { until as poll } from "../../support/poll.ts";
import { exactlyOnce } from "../../support/sequence.ts";

async function setup(t: Test, slots: number) {
  const mini: MiniCluster = await startMiniCluster({ taskManagers: 1, slotsPerTaskManager: slots });
  t.teardown(() => mini.stop());
  return miniRest(mini);
}

/** Every subtask of the vertex counted, whatever its state (Flink's counts name every state). */
const total = (tasks: Record<string, number>) => Object.values(tasks).reduce((a, b) => a + b, 0);

const allRunningAt = (p: number) => (d: JobDetailsInfo) =>
  d.state === JobState.RUNNING &&
  d.vertices.every((v) => v.parallelism === p && v.tasks.RUNNING === p);
const bounds = (lowerBound: number, upperBound: number) => ({
  parallelism: { lowerBound, upperBound },
});

t.test(
  "adaptive: 2 of 4 slots, then a lowered upper bound rescales to 1; exactly once",
  async (t) => {
    const { call, submit, until, results } = await setup(t, 2);
    const jobId = await submit("test/support/jobs/adaptive_sequence.ts", {
      keys: "6",
      perKey: "1500",
      rate: "1500",
    });
    // Running below the upper bound: the stabilization window elapsed without more slots (its
    // timing is tested on a manual clock in adaptive.test.ts).
    const at2 = await until("parallelism 2", jobId, allRunningAt(2));
    t.match(at2.flotilla, {
      scheduler: "adaptive",
      rescales: 0,
      parallelismBounds: { lowerBound: 1, upperBound: 4 },
    });

    const put = await call("PUT", `/jobs/${jobId}/resource-requirements`, {
      sequence: bounds(1, 1),
      "check-sequences": bounds(1, 1),
    });
    t.equal(put.status, 200);
    const at1 = await until("parallelism 1", jobId, allRunningAt(1));
    t.equal(at1.flotilla.rescales, 1);
    t.ok((at1.flotilla.attempt ?? 0) > (at2.flotilla.attempt ?? 0), "a new attempt");

    const done = await until("the end", jobId, (d) => isJobEnd(d.state));
    t.equal(done.state, JobState.FINISHED, JSON.stringify(done.flotilla.error ?? ""));
    t.equal(done.flotilla.rescales, 1);
    exactlyOnce(t, await results(jobId), 6, 1500);
  },
);

/** Every vertex runs all its tasks at its parallelism in `want` (by flotilla's vertex id). */
const runningWith = (want: Record<string, number>) => (d: JobDetailsInfo) =>
  d.state === JobState.RUNNING &&
  d.vertices.length === Object.keys(want).length &&
  d.vertices.every(
    (v) =>
      v.parallelism === want[v.flotilla.vertexId] &&
      v.tasks.RUNNING === want[v.flotilla.vertexId] &&
      total(v.tasks) === v.tasks.RUNNING,
  );

t.test(
  "per-vertex bounds: a PUT runs the source at 2 and the keyed check at 4 on 4 slots; exactly once",
  async (t) => {
    const { call, submit, until, job, results, taskManagers, taskManager } = await setup(t, 4);
    const [keys, perKey] = [8, 3000];
    const jobId = await submit("test/support/jobs/adaptive_sequence.ts", {
      keys: String(keys),
      perKey: String(perKey),
      rate: "1000",
    });
    await until("parallelism 4", jobId, runningWith({ sequence: 4, "check-sequences": 4 }));
    const path = `/jobs/${jobId}/resource-requirements`;
    t.same((await call("GET", path)).body, {
      sequence: bounds(1, 4),
      "check-sequences": bounds(1, 4),
    });

    const refused = async (body: unknown, pattern: RegExp) => {
      const res = await call("PUT", path, body);
      t.equal(res.status, 400, `${JSON.stringify(body)} -> 400`);
      t.match(res.body, { errors: [pattern] });
    };
    await refused(
      { nope: bounds(1, 2), sequence: bounds(1, 2), gone: bounds(1, 1) },
      /no vertex 'nope', 'gone'; its vertices: sequence, check-sequences/,
    );
    await refused(
      { "check-sequences": bounds(1, 129) },
      /'check-sequences': upperBound 129 is above the job's maxParallelism 128/,
    );
    await refused({ sequence: bounds(3, 2) }, /lowerBound must not be above upperBound/);
    t.equal((await job(jobId)).flotilla.rescales, 0, "refused PUTs change nothing");

    const put = await call("PUT", path, { sequence: bounds(1, 2) });
    t.equal(put.status, 200);
    t.same(
      put.body,
      { sequence: bounds(1, 2), "check-sequences": bounds(1, 4) },
      "only the named vertex changed",
    );
    const split = await until(
      "source at 2, check at 4",
      jobId,
      runningWith({ sequence: 2, "check-sequences": 4 }),
    );
    t.equal(split.flotilla.rescales, 1, "one rescale");
    t.same(
      (await call("GET", path)).body,
      { sequence: bounds(1, 2), "check-sequences": bounds(1, 4) },
      "GET shows each vertex's bounds",
    );
    t.same(
      split.flotilla.parallelismBounds,
      { lowerBound: 1, upperBound: 4 },
      "the job's range: lowest lower, highest upper",
    );
    t.same(
      split.vertices.map((v) => [v.flotilla.vertexId, v.flotilla.parallelismBounds]),
      [
        ["sequence", { lowerBound: 1, upperBound: 2 }],
        ["check-sequences", { lowerBound: 1, upperBound: 4 }],
      ],
      "the details show each vertex's bounds",
    );
    const held = async () => {
      const details = await Promise.all((await taskManagers()).map((tm) => taskManager(tm.id)));
      return details.flatMap((tm) => tm.allocatedSlots).filter((s) => s.jobId === jobId).length;
    };
    t.equal(await held(), 4, "the job keeps the largest upper bound's slots");

    // A raised lower bound the slots cannot meet: the running job keeps running as it is.
    t.equal((await call("PUT", path, { "check-sequences": bounds(5, 6) })).status, 200);
    t.equal((await job(jobId)).flotilla.rescales, 1, "no slots for 5: no rescale");
    t.equal(
      (await call("PUT", path, { "check-sequences": bounds(1, 3) })).status,
      200,
      "back within what the slots allow",
    );
    const at3 = await until(
      "source at 2, check at 3",
      jobId,
      runningWith({ sequence: 2, "check-sequences": 3 }),
    );
    t.equal(at3.flotilla.rescales, 2);
    t.ok(
      await poll(async () => (await held()) === 3, "the job to hold 3 of its 4 slots"),
      "slots above the largest upper bound go back",
    );

    const done = await until("the end", jobId, (d) => isJobEnd(d.state));
    t.equal(done.state, JobState.FINISHED, JSON.stringify(done.flotilla.error ?? ""));
    t.equal(done.flotilla.rescales, 2);
    exactlyOnce(t, await results(jobId), keys, perKey);
  },
);

t.test(
  "the default scheduler: fixed bounds, and a PUT is a 409 that says what to change",
  async (t) => {
    const { call, submit, until } = await setup(t, 2);
    const jobId = await submit("examples/sequence-check.ts", {
      keys: "2",
      perKey: "100000",
      rate: "1000",
    });
    const running = await until("running", jobId, allRunningAt(2));
    t.match(running.flotilla, { scheduler: "default", rescales: 0 });
    const path = `/jobs/${jobId}/resource-requirements`;
    t.same((await call("GET", path)).body, {
      sequence: bounds(2, 2),
      "check-sequences": bounds(2, 2),
    });
    const put = await call("PUT", path, { sequence: bounds(1, 1) });
    t.equal(put.status, 409);
    t.match(put.body, { code: "CONFLICT", errors: [/default scheduler.*scheduler "adaptive"/] });
    await call("PATCH", `/jobs/${jobId}?mode=cancel`);
    await until("canceled", jobId, (d) => d.state === JobState.CANCELED);
  },
);
