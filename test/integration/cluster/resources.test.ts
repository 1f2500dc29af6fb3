/** Resource profiles and drivers: placement by profile, waiting with a reason, process-driven TaskManagers. */
import t from "tap";
import { JobState } from "../../../components/core/mod.ts";
import { clusterFor } from "../../support/cluster.ts";
import { natsFor } from "../../support/tap.ts";

t.test(
  "a vertex asking for more memory than some slots offer runs only on a TaskManager that fits",
  async (t) => {
    const nats = await natsFor(t);
    const cluster = await clusterFor(t, nats, { roles: ["master"] });
    cluster.spawn("taskmanager", {
      FLOTILLA_TASKMANAGER_ID: "tm-small",
      FLOTILLA_TASKMANAGER_MEMORY_MB: "256",
    });
    cluster.spawn("taskmanager", {
      FLOTILLA_TASKMANAGER_ID: "tm-big",
      FLOTILLA_TASKMANAGER_MEMORY_MB: "2048",
    });
    await cluster.waitFor("two TaskManagers", async () =>
      (await cluster.overview()).taskmanagers === 2 ? true : undefined,
    );

    const fits = await cluster.submit("test/support/jobs/profiled.ts", {
      args: { memoryMb: "1024" },
    });
    const placed = await cluster.waitFor("the job placed", async () => {
      const holders = (await cluster.taskManagerDetails())
        .filter((tm) => tm.allocatedSlots.some((s) => s.jobId === fits))
        .map((tm) => tm.id);
      return holders.length ? holders : undefined;
    });
    t.same(placed, ["tm-big"], "only the TaskManager with 2048 MB slots");
    t.equal((await cluster.result(fits)).state, JobState.FINISHED);

    const tooBig = await cluster.submit("test/support/jobs/profiled.ts", {
      args: { memoryMb: "4096" },
    });
    const waiting = await cluster.waitFor("a clear waiting status", async () => {
      const job = await cluster.job(tooBig);
      return job.state === JobState.CREATED && job.flotilla.waitingFor ? job : undefined;
    });
    t.match(waiting.flotilla.waitingFor, /cannot provide 1 x .*"memoryMb":4096/);
    t.equal((await cluster.call("PATCH", `/jobs/${tooBig}?mode=cancel`)).status, 202);
    t.equal((await cluster.result(tooBig)).state, JobState.CANCELED);
  },
);

t.test(
  "the process driver starts TaskManagers for a job and releases them when idle",
  async (t) => {
    const nats = await natsFor(t);
    const cluster = await clusterFor(t, nats, {
      roles: ["master"],
      env: {
        FLOTILLA_RESOURCEMANAGER_DRIVER: "process",
        FLOTILLA_RESOURCEMANAGER_TASKMANAGER_TIMEOUT: "1000",
      },
    });
    t.equal((await cluster.overview()).taskmanagers, 0, "no TaskManager before a job");
    const jobId = await cluster.submit("sequence-check.ts", {
      args: { keys: "4", perKey: "500", rate: "20000" },
    });
    const started = await cluster.waitFor("TaskManagers started by the driver", async () => {
      const { taskmanagers } = await cluster.overview();
      return taskmanagers >= 2 ? taskmanagers : undefined;
    });
    t.ok(started >= 2, `${started} TaskManager processes`);
    t.equal((await cluster.result(jobId)).state, JobState.FINISHED);
    await cluster.waitFor(
      "idle TaskManagers released",
      async () => ((await cluster.overview()).taskmanagers === 0 ? true : undefined),
      20_000,
    );
    t.pass("released after the idle timeout");
  },
);
