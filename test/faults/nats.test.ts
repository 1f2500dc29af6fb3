/**
 * NATS itself fails under the cluster: nats-server is stopped and started again on the same
 * JetStream store (file storage) while the sequence-check job runs. Leases, job graphs and
 * checkpoints are on disk and survive; every process reconnects; the job goes on (or restarts
 * from its latest checkpoint) and finishes exactly once.
 */
import t from "tap";
import { faultCluster } from "./support/cluster.ts";
import { FULL, formatRows, type Row, runScenario } from "./support/scenario.ts";

t.setTimeout(FULL ? 900_000 : 180_000);
const rows: Row[] = [];
t.teardown(() => process.stderr.write(`\n${formatRows(rows)}\n`));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const how of FULL ? (["stop", "kill"] as const) : (["stop"] as const)) {
  t.test(`restart NATS (${how === "stop" ? "SIGTERM" : "kill -9"}, same store)`, async (t) => {
    // A lease longer than the outage (stop, 1 s, start, reconnect): the leaders keep theirs.
    const cluster = await faultCluster(t, {
      masters: 2,
      taskManagers: 3,
      env: { FLOTILLA_HA_LEASE: "6000" },
    });
    t.same(await cluster.storage(), ["file", "file"], "KV bucket and blob store on file storage");
    const outages = FULL ? 2 : 1;
    rows.push(
      await runScenario(t, cluster, {
        name: `NATS ${how} + start`,
        job: { seconds: 8 + 4 * outages },
        async inject({ jobId, timeline, settle }) {
          for (let i = 0; i < outages; i++) {
            const before = {
              dispatcher: await cluster.lease("dispatcher"),
              resourcemanager: await cluster.lease("resourcemanager"),
              checkpoint: (await cluster.ha.checkpoints.latest(jobId))?.checkpointId,
            };
            t.ok(
              before.dispatcher && before.resourcemanager && before.checkpoint,
              "leases and a checkpoint",
            );
            const fault = timeline.fault(`NATS ${how}`, false);
            await (how === "stop" ? cluster.nats.stop() : cluster.nats.kill());
            await sleep(1000); // the outage itself: NATS stays away for a second
            await cluster.nats.start();
            // What was on disk is still there (read before anyone could write again).
            const jobs = await cluster.ha.jobGraphs.list();
            t.ok(
              jobs.some((j) => j.jobId === jobId),
              "the job graph survived the restart",
            );
            const latest = (await cluster.ha.checkpoints.latest(jobId))?.checkpointId ?? 0;
            t.ok(latest >= before.checkpoint!, `checkpoint ${latest} >= ${before.checkpoint}`);
            for (const role of ["dispatcher", "resourcemanager"] as const) {
              const lease = await cluster.waitFor(`a ${role} lease`, () => cluster.lease(role));
              t.same(
                { holder: lease.holder, token: lease.token },
                { holder: before[role]!.holder, token: before[role]!.token },
                `the ${role} lease survived: ${lease.holder}, token ${lease.token}`,
              );
            }
            await settle(fault);
          }
        },
      }),
    );
  });
}
