/** Leader election of the ResourceManager across processes: one serves, the standby takes over, the old token is refused. */
import t from "tap";
import { BlockRole, JobState, StaleLeaderError, subjects } from "../../../components/core/mod.ts";
import { natsHaServices } from "../../../components/ha/mod.ts";
import {
  createClient,
  fencingHeaders,
  natsTransport,
  unwrap,
} from "../../../components/rpc/mod.ts";
import type { TaskManagerApp } from "../../../components/taskmanager/mod.ts";
import { clusterFor } from "../../support/cluster.ts";
import { connectFor, natsFor } from "../../support/tap.ts";

t.test(
  "two ResourceManagers race: one leads; kill -9 it and the standby takes over, fencing the old one",
  async (t) => {
    const nats = await natsFor(t);
    const cluster = await clusterFor(t, nats, { roles: ["dispatcher"] });
    const rms = {
      "rm-a": cluster.spawn("resourcemanager", { FLOTILLA_CLUSTER_INSTANCE_ID: "rm-a" }),
      "rm-b": cluster.spawn("resourcemanager", { FLOTILLA_CLUSTER_INSTANCE_ID: "rm-b" }),
    };
    cluster.spawn("taskmanager", { FLOTILLA_TASKMANAGER_ID: "tm-1" });
    await cluster.waitFor("the TaskManager registered", async () =>
      (await cluster.overview()).taskmanagers === 1 ? true : undefined,
    );

    const nc = await connectFor(t, nats);
    const ha = await natsHaServices({ nc, clusterId: cluster.env.FLOTILLA_CLUSTER_ID! });
    const probe = ha.election({ role: BlockRole.RESOURCE_MANAGER, holder: "test-probe" });
    const first = (await probe.leader())!;
    t.ok(first.holder === "rm-a" || first.holder === "rm-b", `leader ${first.holder}`);

    rms[first.holder as keyof typeof rms].kill("SIGKILL");
    const second = await cluster.waitFor("a new leader", async () => {
      const info = await probe.leader();
      return info && info.holder !== first.holder ? info : undefined;
    });
    // Within the wait's deadline (20 s): how soon is measured by `npm run bench -- recovery`.
    t.ok(second.token > first.token, `token ${first.token} -> ${second.token}`);

    await cluster.waitFor("the TaskManager registered at the new leader", async () =>
      (await cluster.overview()).taskmanagers === 1 ? true : undefined,
    );
    const tmSubject = subjects.taskManager(cluster.env.FLOTILLA_CLUSTER_ID!, "tm-1");
    await cluster.waitFor("the TaskManager to know the new token", async () => {
      const stale = createClient<TaskManagerApp>(natsTransport(nc, tmSubject), {
        headers: fencingHeaders(first.token),
      });
      const error = await unwrap(
        stale.slots[":slotId"].allocate.$post({
          param: { slotId: "tm-1_0" },
          json: {
            jobId: "0".repeat(32),
            allocationId: "stale-alloc",
            jmSubject: "nobody",
            profile: { cpu: 0, memoryMb: 0, extended: {} },
          },
        }),
      ).catch((e) => e);
      return error instanceof StaleLeaderError ? error : undefined;
    });
    t.pass("a call with the old leader's token is rejected as STALE_LEADER");

    const jobId = await cluster.submit("sequence-check.ts", {
      args: { keys: "2", perKey: "200", rate: "20000" },
    });
    t.equal(
      (await cluster.result(jobId)).state,
      JobState.FINISHED,
      "jobs run under the new leader",
    );
  },
);
