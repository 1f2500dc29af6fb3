/**
 * A session cluster of separate processes (nats-server, master = Dispatcher + ResourceManager,
 * TaskManagers with 2 slots each), driven through its REST API like a user would.
 */
import t from "tap";
import { JobState } from "../../../components/core/mod.ts";
import { clusterFor } from "../../support/cluster.ts";
import { TEST_TOKEN } from "../../support/rest_token.ts";
import { exactlyOnce } from "../../support/sequence.ts";
import { natsFor } from "../../support/tap.ts";
import { restBadInput } from "./rest_contract.ts";

const all = (results: Record<string, unknown[]>) => Object.values(results).flat();

t.test(
  "two jobs at once share the TaskManagers, finish correct, and give their slots back",
  async (t) => {
    const nats = await natsFor(t);
    const cluster = await clusterFor(t, nats);
    const [words, sequences] = await Promise.all([
      cluster.submit("wordcount.ts"),
      cluster.submit("sequence-check.ts", { args: { keys: "8", perKey: "3000", rate: "20000" } }),
    ]);
    const [w, s] = await Promise.all([cluster.result(words), cluster.result(sequences)]);
    t.equal(w.state, JobState.FINISHED, JSON.stringify(w.flotilla.error));
    t.equal(s.state, JobState.FINISHED, JSON.stringify(s.flotilla.error));
    const counts = all(await cluster.results(words)) as { word: string; count: number }[];
    t.equal(counts.find((r) => r.word === "to")?.count, 13);
    t.equal(
      counts.reduce((n, r) => n + r.count, 0),
      86,
      "every word of the text once",
    );
    exactlyOnce(t, await cluster.results(sequences), 8, 3000);
    t.ok(s.flotilla.checkpoints >= 1, `${s.flotilla.checkpoints} checkpoints`);
    await cluster.waitFor("slots back at the RM", async () => {
      const overview = await cluster.overview();
      return overview["slots-available"] === 4 ? overview : undefined;
    });
    t.same(
      (await cluster.jobs()).map((j) => j.state),
      [JobState.FINISHED, JobState.FINISHED],
    );

    await restBadInput(
      t,
      (method, path, body, raw) =>
        raw !== undefined
          ? fetch(cluster.rest + path, {
              method,
              headers: {
                "content-type": "application/json",
                authorization: `Bearer ${TEST_TOKEN}`,
              },
              body: raw,
            }).then(async (r) => ({ status: r.status, body: await r.json() }))
          : cluster.call(method, path, body),
      words,
    );
  },
);

t.test(
  "a job needing more slots than exist waits, then runs when a TaskManager joins",
  async (t) => {
    const nats = await natsFor(t);
    const cluster = await clusterFor(t, nats, { roles: ["master", "taskmanager"] });
    const jobId = await cluster.submit("sequence-check.ts", {
      parallelism: 3,
      args: { keys: "6", perKey: "1000", rate: "20000" },
    });
    const waiting = await cluster.waitFor("the job to wait for slots", async () => {
      const job = await cluster.job(jobId);
      return job.state === JobState.CREATED ? job : undefined;
    });
    t.equal(waiting.state, JobState.CREATED, "waits for a third slot");
    await new Promise((r) => setTimeout(r, 500)); // a watch, not a wait: it must not start
    t.equal((await cluster.job(jobId)).state, JobState.CREATED, "still waiting");
    cluster.spawn("taskmanager");
    const done = await cluster.result(jobId);
    t.equal(done.state, JobState.FINISHED, JSON.stringify(done.flotilla.error));
    exactlyOnce(t, await cluster.results(jobId), 6, 1000);
  },
);

t.test(
  "kill -9 a TaskManager mid-job: restart from the latest checkpoint, zero alerts",
  async (t) => {
    const nats = await natsFor(t);
    const cluster = await clusterFor(t, nats, { roles: ["master"] });
    const tms = ["tm-a", "tm-b", "tm-c"].map((id) => ({
      id,
      process: cluster.spawn("taskmanager", { FLOTILLA_TASKMANAGER_ID: id }),
    }));
    await cluster.waitFor("three TaskManagers", async () =>
      (await cluster.overview()).taskmanagers === 3 ? true : undefined,
    );
    const jobId = await cluster.submit("sequence-check.ts", {
      args: { keys: "8", perKey: "6000", rate: "12000" },
    });
    await cluster.waitFor("two checkpoints", async () => {
      const job = await cluster.job(jobId);
      return job.flotilla.checkpoints >= 2 ? job : undefined;
    });
    const busy = (await cluster.taskManagerDetails()).find((tm) =>
      tm.allocatedSlots.some((s) => s.jobId === jobId),
    );
    t.ok(busy, "a TaskManager runs the job");
    const victim = tms.find((tm) => tm.id === busy!.id)!;
    victim.process.kill("SIGKILL");
    const done = await cluster.result(jobId, 60_000);
    t.equal(done.state, JobState.FINISHED, JSON.stringify(done.flotilla.error));
    t.ok(done.flotilla.restarts >= 1, `${done.flotilla.restarts} restarts`);
    exactlyOnce(t, await cluster.results(jobId), 8, 6000);
  },
);
